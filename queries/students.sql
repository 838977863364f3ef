-- Students of the run's étape versions in a year: valid administrative enrolments only.
-- One query for every cohort of the run: the étapes (and versions) come as lists, and
-- the caller keeps the (étape, version) pairs it asked for and splits the rows per
-- cohort. One row per enrolment occurrence (NUM_OCC_IAE is in the key): the caller
-- collapses them per COD_IND and filters ETA_PMT_IAE against the configured payment
-- states.
-- The sets travel as bind lists, `IN (:etapes)` being expanded to
-- `IN (:etapes_1, …, :etapes_n)` in chunks of at most 500 values (Oracle allows 1000
-- expressions in a list). Bind lists need no privilege (a global temporary table
-- would need DDL on production Apogée), keep the engine's index on
-- (COD_ANU, COD_ETP, COD_VRS_VET) usable, and read the same on Oracle and SQLite
-- (a `WITH … FROM DUAL` set would not run on SQLite).
-- binds: :annee (string); lists: :etapes (strings), :versions (numbers)
SELECT iae.COD_ETP, iae.COD_VRS_VET, i.COD_IND, i.COD_ETU,
       COALESCE(i.LIB_NOM_USU_IND, i.LIB_NOM_PAT_IND) AS NOM, i.LIB_PR1_IND AS PRENOM,
       iae.ETA_PMT_IAE
FROM INS_ADM_ETP iae
JOIN INDIVIDU i ON i.COD_IND = iae.COD_IND
WHERE iae.COD_ANU = :annee
  AND iae.COD_ETP IN (:etapes)
  AND iae.COD_VRS_VET IN (:versions)
  AND iae.ETA_IAE = 'E'
