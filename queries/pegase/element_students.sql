-- Pégase (DRE): students whose pedagogical choices (schema_chc) of the run's period
-- take one of the run's elements, backed by a registration of the configured
-- statuses on the formation object of the same cursus. A choice still in draft
-- (temoin_brouillon) or met by an element acquired earlier (uuid_acquis_utilise, as
-- Apogée's TEM_PRC_ICE = 'O') does not count. One query for every element cohort;
-- the caller keeps the (formation, element) pairs it asked for.
-- A cursus belongs to one registration: its chemin (code_chemin, codes joined by
-- '>') ends with the registration's formation object.
-- binds: :periode (string); lists: :elements (strings), :statuts (strings)
SELECT om.code AS formation, cp.code AS element,
       CAST(a.id AS TEXT) AS id_apprenant, a.code_apprenant, a.ine_maitre,
       COALESCE(a.nom_usage, idt.nom_naissance) AS nom, idt.prenom
FROM schema_chc.choix_pedagogique cp
JOIN schema_chc.cursus cu ON cu.uuid = cp.uuid_cursus
JOIN schema_chc.periode pe ON pe.uuid = cu.uuid_periode
JOIN schema_chc.inscription ci ON ci.uuid = cu.uuid_inscription
JOIN schema_chc.chemin_objet_maquette com ON com.uuid = ci.uuid_chemin_objet_maquette
JOIN schema_ins.inscription i ON i.id_apprenant = cu.uuid_apprenant
JOIN schema_odf.contexte c ON c.id = i.id_odf_chemin
JOIN schema_odf.objet_maquette om ON om.id = c.id_objet_maquette
JOIN schema_odf.espace e ON e.id = om.id_espace AND e.code = pe.code
JOIN schema_idt.apprenant a ON a.id = i.id_apprenant
LEFT JOIN schema_idt.identite idt ON idt.id = a.id
WHERE pe.code = :periode
  AND cp.code IN (:elements)
  AND cp.temoin_brouillon = FALSE
  AND cp.uuid_acquis_utilise IS NULL
  AND (com.code_chemin = om.code OR com.code_chemin LIKE '%>' || om.code)
  AND i.statut_inscription IN (:statuts)
