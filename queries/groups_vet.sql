-- Group assignments of the year for groups attached to the run's étape versions
-- (GPE_OBJ 'VET'), valid that year. A group hung on several objects comes once per
-- object: the caller keeps the objects it asked for and deduplicates.
-- Lists are expanded as in students.sql.
-- binds: :annee (string); lists: :etapes (strings)
SELECT gpo.COD_ETP, gpo.COD_VRS_VET, iag.COD_IND, g.COD_EXT_GPE, g.LIB_GPE, g.COD_TGR
FROM GPE_OBJ gpo
JOIN GROUPE g ON g.COD_GPE = gpo.COD_GPE
JOIN IND_AFFECTE_GPE iag ON iag.COD_GPE = g.COD_GPE
WHERE iag.COD_ANU = :annee
  AND gpo.TYP_OBJ_GPO = 'VET'
  AND gpo.COD_ETP IN (:etapes)
  AND g.DAA_DEB_VAL_GPE <= :annee
  AND (g.DAA_FIN_VAL_GPE IS NULL OR g.DAA_FIN_VAL_GPE >= :annee)
