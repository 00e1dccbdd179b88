-- 021: scim_write takes its operations as one array of rows
-- (userbulk.scim_input[], functions/scim_write.sql) instead of one array
-- per column, as put_users does since 019: PostgreSQL reads them in less
-- time (README, Benchmark). The earlier signature goes
-- (one function of each name: privileges.sql grants by name); functions/
-- creates the new one in the same transaction. A module of an earlier
-- release calls the earlier signature: upgrade the module with the schema.
DROP FUNCTION IF EXISTS userbulk.scim_write(text, text, text, jsonb, text, integer[], text[],
    text[], integer[], bigint[], text[], text[], text[], text[], text[], text[], text[], text[],
    boolean[], text[], text[], text[], text[]);
