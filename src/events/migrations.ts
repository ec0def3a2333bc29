// Event log schema; PRAGMA user_version holds how many have run. Version 1 is the MQTT outbox of
// facegate 0.1 (formerly src/mqtt/event-outbox.ts), so an existing events.db is upgraded in place and its
// undelivered events stay queued for MQTT. Never edit a released migration: add the next one.
export const EVENT_LOG_MIGRATIONS: string[] = [
  `CREATE TABLE events (
     seq              INTEGER PRIMARY KEY AUTOINCREMENT,
     id               TEXT NOT NULL UNIQUE,
     topic            TEXT NOT NULL,
     payload          TEXT NOT NULL,
     created_at_ms    INTEGER NOT NULL,
     person_id        INTEGER,
     person_name      TEXT,
     model_id         TEXT,
     model_sha        TEXT,
     embedding        BLOB,
     marked_wrong_at  TEXT
   );
   CREATE INDEX events_by_person ON events(person_id);
   CREATE TABLE outbox (seq INTEGER PRIMARY KEY REFERENCES events(seq) ON DELETE CASCADE);
   CREATE TABLE nonces (nonce TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL);
   CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
  // Transport-neutral: a kind instead of an MQTT topic, searchable columns for the console, face
  // snapshots, and one delivery queue per consumer instead of the one outbox.
  `ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT 'recognition';
   ALTER TABLE events ADD COLUMN door TEXT;
   ALTER TABLE events ADD COLUMN reason TEXT;
   ALTER TABLE events ADD COLUMN person_uuid TEXT;
   ALTER TABLE events ADD COLUMN score REAL;
   ALTER TABLE events ADD COLUMN snapshot BLOB;
   UPDATE events SET kind = substr(topic, 7) WHERE topic LIKE 'event/%';
   UPDATE events SET door = json_extract(payload, '$.door'), reason = json_extract(payload, '$.reason'), score = json_extract(payload, '$.score') WHERE json_valid(payload);
   CREATE INDEX events_by_time ON events(created_at_ms);
   CREATE INDEX events_by_door_reason ON events(door, reason);
   CREATE TABLE consumers (name TEXT PRIMARY KEY, kinds TEXT NOT NULL);
   CREATE TABLE deliveries (
     consumer  TEXT NOT NULL REFERENCES consumers(name) ON DELETE CASCADE,
     seq       INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
     PRIMARY KEY (consumer, seq)
   );
   CREATE INDEX deliveries_by_seq ON deliveries(seq);
   INSERT INTO consumers (name, kinds) SELECT 'mqtt', '["recognition","unlock","enrollment"]' WHERE EXISTS (SELECT 1 FROM outbox);
   INSERT INTO deliveries (consumer, seq) SELECT 'mqtt', seq FROM outbox;
   DROP TABLE outbox;
   UPDATE counters SET name = 'dropped:mqtt' WHERE name = 'dropped';`,
];
