-- 010: what SCIM clients keep on a user besides the seed's fields.
--
-- external_id: the IdP's own id of the user (RFC 7643 section 3.1,
-- externalId). Okta and Microsoft Entra send it on creation and Entra
-- finds users by it (filter=externalId eq "..."), so it is indexed within
-- the account. Not unique: it is the client's value, and two IdPs may
-- provision one account.
--
-- created_at: meta.created. Added without a default first, so that the
-- users that exist keep NULL (their creation time is unknown, and stamping
-- them with the time of the upgrade would be a false answer; the
-- resource then leaves meta.created out) and the ALTER rewrites nothing;
-- the default then applies to the users created from now on.
--
-- manager_id: the enterprise extension's manager (a user of the same
-- account: the foreign key includes account_id). Deleting the manager
-- clears the reference, not the managed users. The partial index answers
-- that clearing without reading the account's users.
ALTER TABLE userbulk.users
    ADD COLUMN external_id varchar(256),
    ADD COLUMN created_at  timestamptz,
    ADD COLUMN manager_id  uuid;
ALTER TABLE userbulk.users ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE userbulk.users
    ADD CONSTRAINT users_manager FOREIGN KEY (account_id, manager_id)
        REFERENCES userbulk.users (account_id, id) ON DELETE SET NULL (manager_id),
    ADD CONSTRAINT users_manager_not_self CHECK (manager_id <> id);
CREATE INDEX users_external_id ON userbulk.users (account_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX users_manager ON userbulk.users (account_id, manager_id)
    WHERE manager_id IS NOT NULL;

-- POST /Users now goes through the SCIM writes' engine (scim_write) like
-- every other write: the function of the read side's release goes, with
-- its grant.
DROP FUNCTION IF EXISTS userbulk.scim_create_user(text, text, text, text, text, text, text,
                                                  text, text, text, text, boolean, text);
