-- Students with a pedagogical enrolment in the run's elements: normal contract lines
-- only (TEM_PRC_ICE = 'N'; 'O' is an element acquired earlier), backed by a valid
-- administrative enrolment on the same four keys. One query for every element cohort
-- of the run; the caller keeps the (étape, version, element) triples it asked for.
-- Lists are expanded as in students.sql.
-- binds: :annee (string); lists: :elements (strings)
SELECT ice.COD_ETP, ice.COD_VRS_VET, ice.COD_ELP, i.COD_IND, i.COD_ETU,
       COALESCE(i.LIB_NOM_USU_IND, i.LIB_NOM_PAT_IND) AS NOM, i.LIB_PR1_IND AS PRENOM,
       iae.ETA_PMT_IAE
FROM IND_CONTRAT_ELP ice
JOIN INS_ADM_ETP iae
  ON iae.COD_ANU = ice.COD_ANU
 AND iae.COD_IND = ice.COD_IND
 AND iae.COD_ETP = ice.COD_ETP
 AND iae.COD_VRS_VET = ice.COD_VRS_VET
JOIN INDIVIDU i ON i.COD_IND = ice.COD_IND
WHERE ice.COD_ANU = :annee
  AND ice.COD_ELP IN (:elements)
  AND ice.TEM_PRC_ICE = 'N'
  AND iae.ETA_IAE = 'E'
