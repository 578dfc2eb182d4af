"""The question log's tables, as numbered migrations: a database at version N runs the
steps after N, each in one transaction (:meth:`bot.store.database.Store._migrate`)."""

MIGRATIONS: tuple[str, ...] = (
    # 1: answered messages and feedback on them
    """
    CREATE TABLE answers (
        id TEXT PRIMARY KEY,            -- uuid4 hex, known before the row is written
        at TEXT NOT NULL,               -- UTC, 'YYYY-MM-DD HH:MM:SS'
        channel TEXT NOT NULL,          -- widget | api | staff
        question TEXT,                  -- redacted; NULL when question logging is off
        question_key TEXT,              -- normalised question, for grouping
        abstained INTEGER NOT NULL,
        crisis INTEGER NOT NULL,
        sections TEXT NOT NULL,         -- JSON list of the cited sections' headings
        latency_ms REAL NOT NULL,
        answer TEXT NOT NULL,           -- the reply (the clinic's own sentences)
        reason TEXT                     -- why it answered or abstained; NULL with the question
    );
    CREATE INDEX answers_at ON answers (at);
    CREATE INDEX answers_abstained ON answers (abstained, question_key);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        answer_id TEXT NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
        comment TEXT                    -- redacted
    );
    CREATE INDEX feedback_at ON feedback (at);
    CREATE INDEX feedback_answer ON feedback (answer_id);
    """,
    # 2: what staff did about questions the bot could not answer (bot.store.curation)
    """
    CREATE TABLE fixes (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        staff TEXT NOT NULL,            -- the staff user (console) or system user (command line)
        action TEXT NOT NULL,           -- answer | not_for_bot | needs_content | crisis | wrong_sentence
        section TEXT,                   -- file.md#anchor, for answer and wrong_sentence
        phrasings TEXT NOT NULL,        -- JSON list of the visitors' questions, redacted as stored
        asked INTEGER NOT NULL,         -- how many times they were asked when the fix was made
        origin TEXT NOT NULL,           -- unanswered | feedback | cli
        undone_at TEXT,
        undone_by TEXT
    );
    CREATE INDEX fixes_at ON fixes (at);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
