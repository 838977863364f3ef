"""Pégase's DRE tables as enrolgen's queries read them (queries/pegase/,
docs/pegase.md), and a writer of their rows: used by generate.py (the demo) and
scripts/bench/university.py (the benchmark), so that both write the same schema.

One set of rows, two dialects of the tables: SQLite (each schema an attached
database; uuids, arrays and booleans as SQLite stores them) and PostgreSQL (the
published types; rows as INSERTs, or COPY blocks for a large university).
"""
import uuid

DRE_TABLES = [
    ("schema_idt.apprenant", [("id", "uuid PRIMARY KEY"), ("code_apprenant", "varchar(20)"),
                              ("ine_maitre", "varchar(11)"), ("nom_usage", "varchar(100)")]),
    ("schema_idt.identite", [("id", "uuid PRIMARY KEY"), ("nom_naissance", "varchar(100)"),
                             ("prenom", "varchar(100)")]),
    ("schema_odf.espace", [("id", "uuid PRIMARY KEY"), ("code", "varchar(50)"), ("type_espace", "varchar(1)")]),
    ("schema_odf.objet_maquette", [("id", "uuid PRIMARY KEY"), ("id_espace", "uuid"), ("code", "varchar(50)"),
                                   ("libelle_court", "varchar(100)"), ("code_type_objet_formation", "varchar(30)")]),
    ("schema_odf.contexte", [("id", "uuid PRIMARY KEY"), ("id_objet_maquette", "uuid"), ("chemin", "uuid[]"),
                             ("temoin_inscription_administrative", "boolean")]),
    ("schema_ins.inscription", [("id", "uuid PRIMARY KEY"), ("id_apprenant", "uuid"), ("id_odf_chemin", "uuid"),
                                ("statut_inscription", "varchar(20)"), ("statut_paiement", "varchar(20)"),
                                ("temoin_principale", "boolean")]),
    ("schema_chc.periode", [("uuid", "uuid PRIMARY KEY"), ("code", "varchar(50)"), ("libelle_long", "varchar(100)")]),
    ("schema_chc.apprenant", [("uuid", "uuid PRIMARY KEY")]),
    ("schema_chc.chemin_objet_maquette", [("uuid", "uuid PRIMARY KEY"), ("code_chemin", "varchar(200)"),
                                          ("uuid_periode", "uuid")]),
    ("schema_chc.inscription", [("uuid", "uuid PRIMARY KEY"), ("uuid_chemin_objet_maquette", "uuid")]),
    ("schema_chc.cursus", [("uuid", "uuid PRIMARY KEY"), ("uuid_apprenant", "uuid"), ("uuid_periode", "uuid"),
                           ("uuid_inscription", "uuid")]),
    ("schema_chc.choix_pedagogique", [("uuid", "uuid PRIMARY KEY"), ("uuid_cursus", "uuid"), ("code", "varchar(50)"),
                                      ("code_chemin", "varchar(200)"), ("temoin_brouillon", "boolean"),
                                      ("type_choix_pedagogique", "varchar(30)"), ("uuid_acquis_utilise", "uuid")]),
    ("schema_chc.formation", [("uuid", "uuid PRIMARY KEY"), ("code", "varchar(50)"), ("uuid_periode", "uuid")]),
    ("schema_chc.objet_formation", [("uuid", "uuid PRIMARY KEY"), ("code", "varchar(50)"), ("uuid_periode", "uuid")]),
    ("schema_chc.composition", [("uuid", "uuid PRIMARY KEY"), ("code", "varchar(50)"), ("uuid_periode", "uuid")]),
    ("schema_chc.composition_lie_formation_asso", [("uuid_composition", "uuid"), ("uuid_formation", "uuid")]),
    ("schema_chc.composition_lie_objet_formation_asso", [("uuid_composition", "uuid"), ("uuid_objet_formation", "uuid")]),
    ("schema_chc.groupe", [("uuid", "uuid PRIMARY KEY"), ("uuid_composition", "uuid"), ("code", "varchar(50)"),
                           ("libelle_court", "varchar(100)"), ("code_type", "varchar(10)"), ("temoin_actif", "boolean")]),
    ("schema_chc.affectation_groupe", [("uuid", "uuid PRIMARY KEY"), ("uuid_groupe", "uuid"), ("uuid_cursus", "uuid")]),
]
DRE_INDEXES = [
    ("schema_ins.inscription", ["id_odf_chemin", "statut_inscription"]),
    ("schema_ins.inscription", ["id_apprenant"]),
    ("schema_odf.objet_maquette", ["code"]),
    ("schema_odf.contexte", ["id_objet_maquette"]),
    ("schema_chc.cursus", ["uuid_apprenant"]),
    ("schema_chc.choix_pedagogique", ["code"]),
    ("schema_chc.affectation_groupe", ["uuid_groupe"]),
]

def ddl(postgres):
    """The DRE tables' DDL in one dialect: PostgreSQL's types and schemas, or
    SQLite's (the schemas are attached databases; uuids, arrays and booleans as
    SQLite stores them)."""
    out = []
    if postgres:
        for schema in sorted({t.split(".")[0] for t, _ in DRE_TABLES}):
            out.append(f"CREATE SCHEMA {schema};")
    for table, cols in DRE_TABLES:
        defs = []
        for name, ty in cols:
            if not postgres:
                ty = ty.replace("uuid[]", "TEXT").replace("uuid", "TEXT").replace("boolean", "BOOLEAN")
            defs.append(f"{name} {ty}")
        out.append(f"CREATE TABLE {table} ({', '.join(defs)});")
    if postgres:
        for n, (table, cols) in enumerate(DRE_INDEXES):
            out.append(f"CREATE INDEX enrolgen_dre_{n} ON {table} ({', '.join(cols)});")
    return out


def q(v):
    if v is None:
        return "NULL"
    if v is True:
        return "TRUE"
    if v is False:
        return "FALSE"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def copy_value(v):
    if v is None:
        return "\\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


NS = uuid.UUID("6f1c2b1e-5a0e-4c1e-9a53-1f0d2c3b4a59")


def uid(*parts):
    """A uuid made from names: the same every run."""
    return str(uuid.uuid5(NS, "/".join(str(p) for p in parts)))


def pegase_code(etp, vrs):
    """The code of the formation object an Apogée étape version became in Pégase."""
    return f"{etp}-{vrs}"


def pegase_status(eta, pmt):
    """An Apogée registration's state as Pégase's statut_inscription."""
    if eta in ("A", "R"):
        return "ANNULEE"
    if eta == "C":
        return "DEBUTEE"
    return "VALIDEE" if pmt == "P" else "AUTORISEE"


class Dre:
    """A university's DRE, built the way Pégase holds it: periods, formation objects
    with their chemin, learners, registrations (each with its pedagogical cursus),
    element choices, groups in compositions and who is in them."""

    def __init__(self):
        self.rows = {t: [] for t, _ in DRE_TABLES}
        self.objects = {}
        self.seen = set()

    def add(self, table, *values):
        self.rows[table].append(values)

    def period(self, year):
        per = f"PER-{year}"
        self.add("schema_odf.espace", uid("espace", per), per, "P")
        self.add("schema_chc.periode", uid("periode", per), per, f"Année universitaire {year}-{int(year) + 1}")

    def objet(self, year, code, diploma):
        """The formation object `code` of a year's offer, under `diploma`."""
        key = (year, code)
        if key not in self.objects:
            per = f"PER-{year}"
            om, ctx, top = uid("om", per, code), uid("ctx", per, code), uid("om", per, diploma)
            self.add("schema_odf.objet_maquette", om, uid("espace", per), code, code, "FORMATION")
            self.add("schema_odf.contexte", ctx, om, "{" + top + "," + om + "}", True)
            com = uid("com", per, code)
            self.add("schema_chc.chemin_objet_maquette", com, f"{diploma}>{code}", uid("periode", per))
            self.objects[key] = (ctx, com)
        return self.objects[key]

    def learner(self, ind, number, first, last, usage):
        a = uid("apprenant", ind)
        self.add("schema_idt.apprenant", a, None if number is None else str(number), f"{ind:09d}X{ind % 10}",
                 usage.upper() if usage else None)
        self.add("schema_idt.identite", a, last.upper(), first)
        self.add("schema_chc.apprenant", a)

    def register(self, year, ind, code, diploma, status, paid):
        ctx, com = self.objet(year, code, diploma)
        self.add("schema_ins.inscription", uid("inscription", year, ind, code), uid("apprenant", ind), ctx, status,
                 "PAYE" if paid else "NON_PAYE", True)
        chc = uid("chc-inscription", year, ind, code)
        self.add("schema_chc.inscription", chc, com)
        self.add("schema_chc.cursus", uid("cursus", year, ind, code), uid("apprenant", ind),
                 uid("periode", f"PER-{year}"), chc)

    def choose(self, year, ind, code, element, acquired):
        """A pedagogical choice of `element` in the cursus of the registration on `code`."""
        acquis = uid("acquis", year, ind, element) if acquired else None
        self.add("schema_chc.choix_pedagogique", uid("choix", year, ind, element), uid("cursus", year, ind, code),
                 element, f"{code}>{element}", False, "INSCRIPTION", acquis)

    def member(self, year, group, label, kind, obj, on_element, ind, code):
        """Learner `ind` (their cursus on `code`) in group `group` of the composition of
        `obj`, a formation object or an element."""
        per = f"PER-{year}"
        comp = uid("composition", per, obj)
        if comp not in self.seen:
            self.seen.add(comp)
            self.add("schema_chc.composition", comp, f"COMP-{obj}", uid("periode", per))
            if on_element:
                o = uid("chc-objet", per, obj)
                self.add("schema_chc.objet_formation", o, obj, uid("periode", per))
                self.add("schema_chc.composition_lie_objet_formation_asso", comp, o)
            else:
                f = uid("chc-formation", per, obj)
                self.add("schema_chc.formation", f, obj, uid("periode", per))
                self.add("schema_chc.composition_lie_formation_asso", comp, f)
        g = uid("groupe", per, obj, group)
        if g not in self.seen:
            self.seen.add(g)
            self.add("schema_chc.groupe", g, comp, group, label, kind, True)
        self.add("schema_chc.affectation_groupe", uid("affectation", g, ind), g, uid("cursus", year, ind, code))

    def write_sqlite(self, path, head):
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join([head] + ddl(False)) + "\n")
            for table, rows in self.rows.items():
                for r in rows:
                    f.write(f"INSERT INTO {table} VALUES ({', '.join(q(v) for v in r)});\n")

    def write_postgres(self, path, head, copy=False):
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join([head] + ddl(True) + ["BEGIN;"]) + "\n")
            for table, rows in self.rows.items():
                if copy and rows:
                    f.write(f"COPY {table} FROM stdin;\n")
                    for r in rows:
                        f.write("\t".join(copy_value(v) for v in r) + "\n")
                    f.write("\\.\n")
                    continue
                for r in rows:
                    f.write(f"INSERT INTO {table} VALUES ({', '.join(q(v) for v in r)});\n")
            f.write("COMMIT;\n")
