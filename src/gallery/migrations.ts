// Gallery schema, as numbered migrations applied in order; PRAGMA user_version holds the last one.
// Never edit a released migration: add the next one.
export const MIGRATIONS: { version: number; description: string; sql: string }[] = [
  {
    version: 1,
    description: 'people, face templates, negative templates, audit log',
    sql: `
      CREATE TABLE people (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        groups      TEXT NOT NULL DEFAULT '[]',
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
      CREATE TABLE templates (
        id          INTEGER PRIMARY KEY,
        person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        model_id    TEXT NOT NULL,
        model_sha   TEXT NOT NULL,
        dim         INTEGER NOT NULL,
        embedding   BLOB NOT NULL,
        quality     TEXT NOT NULL,
        source      TEXT NOT NULL CHECK (source IN ('camera', 'folder', 'remote', 'cli', 'reembed')),
        source_ref  TEXT,
        crop        BLOB,
        created_at  TEXT NOT NULL,
        CHECK (length(embedding) = 4 * dim)
      );
      CREATE INDEX templates_by_model ON templates(model_sha, person_id);
      CREATE TABLE negatives (
        id          INTEGER PRIMARY KEY,
        person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        model_id    TEXT NOT NULL,
        model_sha   TEXT NOT NULL,
        dim         INTEGER NOT NULL,
        embedding   BLOB NOT NULL,
        note        TEXT,
        created_at  TEXT NOT NULL,
        CHECK (length(embedding) = 4 * dim)
      );
      CREATE INDEX negatives_by_model ON negatives(model_sha, person_id);
      CREATE TABLE audit (
        id          INTEGER PRIMARY KEY,
        at          TEXT NOT NULL,
        action      TEXT NOT NULL,
        person      TEXT,
        details     TEXT NOT NULL DEFAULT '{}'
      );
    `,
  },
  {
    version: 2,
    description: 'pending people from button enrollment, and daemon settings (armed enrollment)',
    sql: `
      CREATE TABLE pending (
        id          INTEGER PRIMARY KEY,
        created_at  TEXT NOT NULL,
        source      TEXT NOT NULL,
        note        TEXT
      );
      CREATE TABLE pending_templates (
        id          INTEGER PRIMARY KEY,
        pending_id  INTEGER NOT NULL REFERENCES pending(id) ON DELETE CASCADE,
        model_id    TEXT NOT NULL,
        model_sha   TEXT NOT NULL,
        dim         INTEGER NOT NULL,
        embedding   BLOB NOT NULL,
        quality     TEXT NOT NULL,
        crop        BLOB,
        CHECK (length(embedding) = 4 * dim)
      );
      CREATE TABLE settings (
        key         TEXT PRIMARY KEY,
        value       TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
    `,
  },
];
