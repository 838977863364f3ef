-- Group assignments of the year for groups attached to an étape version (GPE_OBJ 'VET'),
-- valid that year. A group hung on several objects repeats: the caller deduplicates.
-- binds: :annee (string), :etape (string), :version (number)
SELECT iag.COD_IND, g.COD_EXT_GPE, g.LIB_GPE, g.COD_TGR
FROM IND_AFFECTE_GPE iag
JOIN GROUPE g ON g.COD_GPE = iag.COD_GPE
JOIN GPE_OBJ gpo ON gpo.COD_GPE = g.COD_GPE
WHERE iag.COD_ANU = :annee
  AND gpo.TYP_OBJ_GPO = 'VET'
  AND gpo.COD_ETP = :etape
  AND gpo.COD_VRS_VET = :version
  AND g.DAA_DEB_VAL_GPE <= :annee
  AND (g.DAA_FIN_VAL_GPE IS NULL OR g.DAA_FIN_VAL_GPE >= :annee)
ORDER BY iag.COD_IND, g.COD_EXT_GPE
