-- The academic years open for administrative enrolment ('O'), used by `check`.
-- binds: none
SELECT a.COD_ANU FROM ANNEE_UNI a WHERE a.ETA_ANU_IAE = 'O' ORDER BY a.COD_ANU
