-- Pégase (DRE): the learners of the run's period in the active groups of the run's
-- formation objects and elements. A group (schema_chc.groupe) belongs to a
-- composition of the period, linked to formations or to formation objects; who is
-- in a group is read from schema_chc.affectation_groupe (uuid_groupe, uuid_cursus),
-- which the published DRE add-ons do not describe: check its name on your DRE
-- (docs/pegase.md). A group linked to several objects comes once per object: the
-- caller keeps the objects it asked for, and the learners of its cohorts.
-- binds: :periode (string); lists: :objets (strings)
SELECT lie.code AS objet, CAST(cu.uuid_apprenant AS TEXT) AS id_apprenant,
       g.code, g.libelle_court, g.code_type
FROM schema_chc.groupe g
JOIN schema_chc.composition co ON co.uuid = g.uuid_composition
JOIN schema_chc.periode pe ON pe.uuid = co.uuid_periode
JOIN (SELECT cf.uuid_composition, f.code
      FROM schema_chc.composition_lie_formation_asso cf
      JOIN schema_chc.formation f ON f.uuid = cf.uuid_formation
      UNION ALL
      SELECT co2.uuid_composition, o.code
      FROM schema_chc.composition_lie_objet_formation_asso co2
      JOIN schema_chc.objet_formation o ON o.uuid = co2.uuid_objet_formation) lie
  ON lie.uuid_composition = co.uuid
JOIN schema_chc.affectation_groupe ag ON ag.uuid_groupe = g.uuid
JOIN schema_chc.cursus cu ON cu.uuid = ag.uuid_cursus AND cu.uuid_periode = pe.uuid
WHERE pe.code = :periode
  AND lie.code IN (:objets)
  AND g.temoin_actif = TRUE
