-- 003: Idempotency-Key for PUT /users. The first answer to a key is kept
-- for 24 hours so that a retried request (same key, same body, same
-- caller) is answered again instead of applied twice.
CREATE TABLE userbulk.idempotency (
    account     text NOT NULL,          -- as the caller's credentials name it
    actor       text NOT NULL,
    key         text NOT NULL,
    body_hash   text NOT NULL,
    results     jsonb,                  -- the store's answer, per record
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, actor, key)
);
CREATE INDEX idempotency_created ON userbulk.idempotency (created_at);
