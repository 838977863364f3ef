-- Group assignments of the year for groups attached to the run's elements
-- (GPE_OBJ 'ELP'), valid that year. A group hung on several objects comes once per
-- object: the caller deduplicates. Lists are expanded as in students.sql.
-- binds: :annee (string); lists: :elements (strings)
SELECT gpo.COD_ELP, iag.COD_IND, g.COD_EXT_GPE, g.LIB_GPE, g.COD_TGR
FROM GPE_OBJ gpo
JOIN GROUPE g ON g.COD_GPE = gpo.COD_GPE
JOIN IND_AFFECTE_GPE iag ON iag.COD_GPE = g.COD_GPE
WHERE iag.COD_ANU = :annee
  AND gpo.TYP_OBJ_GPO = 'ELP'
  AND gpo.COD_ELP IN (:elements)
  AND g.DAA_DEB_VAL_GPE <= :annee
  AND (g.DAA_FIN_VAL_GPE IS NULL OR g.DAA_FIN_VAL_GPE >= :annee)
