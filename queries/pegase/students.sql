-- Pégase (DRE): students administratively registered, for the run's period, on the
-- run's formation objects (the object a registration targets: the last step of its
-- chemin). Only registrations whose statut_inscription is among the configured ones
-- (default VALIDEE); cancelled (ANNULEE), authorised but not yet validated
-- (AUTORISEE) and started (DEBUTEE) ones are left out. One query for every
-- formation cohort of the run; the caller splits the rows per formation and keeps
-- one row per learner. Lists are expanded as in ../students.sql.
-- Tables and columns as the DRE publishes them (schema_ins, schema_odf, schema_idt);
-- ids are uuids in PostgreSQL, read as text.
-- binds: :periode (string); lists: :formations (strings), :statuts (strings)
SELECT om.code AS formation,
       CAST(a.id AS TEXT) AS id_apprenant, a.code_apprenant, a.ine_maitre,
       COALESCE(a.nom_usage, idt.nom_naissance) AS nom, idt.prenom
FROM schema_ins.inscription i
JOIN schema_odf.contexte c ON c.id = i.id_odf_chemin
JOIN schema_odf.objet_maquette om ON om.id = c.id_objet_maquette
JOIN schema_odf.espace e ON e.id = om.id_espace
JOIN schema_idt.apprenant a ON a.id = i.id_apprenant
LEFT JOIN schema_idt.identite idt ON idt.id = a.id
WHERE e.code = :periode
  AND om.code IN (:formations)
  AND i.statut_inscription IN (:statuts)
