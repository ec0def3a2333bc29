// Gallery schema, as numbered migrations applied in order; PRAGMA user_version holds the last one.
// Never edit a released migration: add the next one. Migrations run with foreign keys off (a table
// rebuild must not cascade) and are checked with foreign_key_check before they commit.

// A random RFC 4122 version 4 UUID in SQL, to backfill rows that predate UUIDs.
const SQL_UUID = `lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))`;

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
  {
    version: 3,
    description: 'ready for sync: UUIDs and versions, tombstones, encrypted templates (key id per row); pending captures move to the device file',
    sql: `
      CREATE TABLE meta (
        key         TEXT PRIMARY KEY,
        value       TEXT NOT NULL
      );
      INSERT INTO meta (key, value) VALUES ('node_id', lower(hex(randomblob(8))));

      -- Names are no longer UNIQUE in the table: two controllers can enroll the same name at once,
      -- and replication keeps both (by UUID) for a person to resolve; local edits still refuse a
      -- taken name. version is a hybrid logical clock (src/gallery/hlc.ts); base_version the
      -- version the change was made on (a different base means concurrent edits).
      CREATE TABLE people_v3 (
        id           INTEGER PRIMARY KEY,
        uuid         TEXT NOT NULL UNIQUE,
        name         TEXT NOT NULL,
        groups       TEXT NOT NULL DEFAULT '[]',
        version      TEXT NOT NULL,
        base_version TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
      );
      INSERT INTO people_v3 (id, uuid, name, groups, version, created_at, updated_at)
        SELECT id, ${SQL_UUID}, name, groups,
               printf('%015d-%05d-%s', CAST(round((julianday(updated_at) - 2440587.5) * 86400000) AS INTEGER), 0, (SELECT value FROM meta WHERE key = 'node_id')),
               created_at, updated_at
        FROM people;
      DROP TABLE people;
      ALTER TABLE people_v3 RENAME TO people;
      CREATE INDEX people_by_name ON people(name);

      -- key_id NULL: a plaintext row from before encryption (encrypted when the gallery is opened).
      CREATE TABLE templates_v3 (
        id          INTEGER PRIMARY KEY,
        uuid        TEXT NOT NULL UNIQUE,
        person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        model_id    TEXT NOT NULL,
        model_sha   TEXT NOT NULL,
        dim         INTEGER NOT NULL,
        embedding   BLOB NOT NULL,
        key_id      TEXT,
        quality     TEXT NOT NULL,
        source      TEXT NOT NULL CHECK (source IN ('camera', 'folder', 'remote', 'cli', 'reembed')),
        source_ref  TEXT,
        crop        BLOB,
        created_at  TEXT NOT NULL,
        CHECK (key_id IS NOT NULL OR length(embedding) = 4 * dim)
      );
      INSERT INTO templates_v3 (id, uuid, person_id, model_id, model_sha, dim, embedding, key_id, quality, source, source_ref, crop, created_at)
        SELECT id, ${SQL_UUID}, person_id, model_id, model_sha, dim, embedding, NULL, quality, source, source_ref, crop, created_at FROM templates;
      DROP TABLE templates;
      ALTER TABLE templates_v3 RENAME TO templates;
      CREATE INDEX templates_by_model ON templates(model_sha, person_id);
      CREATE INDEX templates_by_person ON templates(person_id);

      CREATE TABLE negatives_v3 (
        id          INTEGER PRIMARY KEY,
        uuid        TEXT NOT NULL UNIQUE,
        person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        model_id    TEXT NOT NULL,
        model_sha   TEXT NOT NULL,
        dim         INTEGER NOT NULL,
        embedding   BLOB NOT NULL,
        key_id      TEXT,
        note        TEXT,
        created_at  TEXT NOT NULL,
        CHECK (key_id IS NOT NULL OR length(embedding) = 4 * dim)
      );
      INSERT INTO negatives_v3 (id, uuid, person_id, model_id, model_sha, dim, embedding, key_id, note, created_at)
        SELECT id, ${SQL_UUID}, person_id, model_id, model_sha, dim, embedding, NULL, note, created_at FROM negatives;
      DROP TABLE negatives;
      ALTER TABLE negatives_v3 RENAME TO negatives;
      CREATE INDEX negatives_by_model ON negatives(model_sha, person_id);

      -- A deleted person: no name, no biometric data, only what beats a stale copy.
      CREATE TABLE tombstones (
        uuid        TEXT PRIMARY KEY,
        version      TEXT NOT NULL,
        base_version TEXT,
        deleted_at   TEXT NOT NULL
      );
    `,
  },
];
