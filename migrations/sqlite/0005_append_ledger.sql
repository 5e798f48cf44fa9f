-- Durable schema, version 5: the ledger of appended lines keeps their bytes, and
-- the line being written to each file. Bytes found after a file's last recorded
-- line are cut only when they are the start of that line (what a crash left);
-- anything else (lines another program or another database wrote there) is
-- refused and left as it is. A file deleted after Durable wrote to it can be
-- written again from the ledger.

-- The bytes appended, newline included; NULL for lines recorded before version 5.
ALTER TABLE durable_file_appends ADD COLUMN line BLOB;

-- The line being appended to a file, stored before its bytes are written and
-- removed when the append is recorded (one at a time per file: appends hold a lock).
CREATE TABLE durable_pending_appends (
    path       TEXT PRIMARY KEY,
    offset     INTEGER NOT NULL,
    line       BLOB NOT NULL,
    task_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
