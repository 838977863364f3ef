-- Students of an étape version in a year: valid administrative enrolments only.
-- One row per enrolment occurrence (NUM_OCC_IAE is in the key): the caller collapses
-- them per COD_IND and filters ETA_PMT_IAE against the configured payment states.
-- binds: :annee (string), :etape (string), :version (number)
SELECT i.COD_IND, i.COD_ETU, COALESCE(i.LIB_NOM_USU_IND, i.LIB_NOM_PAT_IND) AS NOM,
       i.LIB_PR1_IND AS PRENOM, iae.ETA_PMT_IAE
FROM INS_ADM_ETP iae
JOIN INDIVIDU i ON i.COD_IND = iae.COD_IND
WHERE iae.COD_ANU = :annee
  AND iae.COD_ETP = :etape
  AND iae.COD_VRS_VET = :version
  AND iae.ETA_IAE = 'E'
ORDER BY i.COD_IND
