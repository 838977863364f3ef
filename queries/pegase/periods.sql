-- Pégase (DRE): the periods of the offer (espaces of type 'P'), used by `check`.
-- binds: none
SELECT e.code FROM schema_odf.espace e WHERE e.type_espace = 'P' ORDER BY e.code
