-- 009: SCIM looks users up by userName without case (RFC 7643: userName is
-- caseExact false): filter=userName eq "..." is what Okta and Entra send
-- before every push. The condition userbulk.scim_users writes is
-- lower(u.user_name) = lower(value) within the account: this index answers
-- it without reading the account's other users.
CREATE INDEX IF NOT EXISTS users_scim_user_name
    ON userbulk.users (account_id, lower(user_name));
