-- SCIM 2.0 Groups (RFC 7643 section 4.2, RFC 7644): an account's roles
-- (userbulk.roles) as Group resources, their members the users holding
-- them (userbulk.user_roles), the role sets that PUT /users and the POST
-- change. Entry functions: scim_groups (the list), scim_group (one by id),
-- scim_group_create (POST), scim_group_change (PATCH and PUT),
-- scim_group_delete (DELETE). Built on scim_users.sql (scim_project).
--
-- Mapping: id = roles.id; displayName = roles.name (unique in the
-- account, not caseExact); members = [{value: user id, display: userName,
-- $ref, type User}] in user id order; meta.version = W/"<digest>", an md5
-- of the name and the member ids (roles have no version column: the digest
-- changes whenever the name or the membership does, whoever changed it).
-- The members' user rows are read only when members are answered; the
-- digest reads their ids from the index user_roles_role (migration 011).
--
-- Every entry function answers one row of the same shape: a resource
-- (etag, resource, id), or a refusal (status, scim_type, detail), the
-- other columns null.

-- The digest behind meta.version and the ETag, from the index alone.
CREATE OR REPLACE FUNCTION userbulk.scim_group_tag(p_account uuid, p_role uuid, p_name text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT md5(p_name || E'\n' || coalesce(string_agg(ur.user_id::text, ',' ORDER BY ur.user_id), ''))
      FROM userbulk.user_roles ur
     WHERE ur.account_id = p_account AND ur.role_id = p_role
$$;

-- The role's members as SCIM members, in user id order.
CREATE OR REPLACE FUNCTION userbulk.scim_group_members(p_account uuid, p_role uuid, p_base text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('value', u.id, 'display', u.user_name,
                                                 '$ref', p_base || '/Users/' || u.id,
                                                 'type', 'User') ORDER BY ur.user_id), '[]')
      FROM userbulk.user_roles ur
      JOIN userbulk.users u ON u.id = ur.user_id AND u.account_id = ur.account_id
     WHERE ur.account_id = p_account AND ur.role_id = p_role
$$;

-- A role as a Group: members and version as given (NULL: left out).
CREATE OR REPLACE FUNCTION userbulk.scim_group_resource(p_id uuid, p_name text, p_members jsonb,
                                                        p_tag text, p_base text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:Group'),
        'id', p_id,
        'displayName', p_name,
        'meta', jsonb_build_object('resourceType', 'Group',
                                   'location', p_base || '/Groups/' || p_id,
                                   'version', 'W/"' || p_tag || '"')))
        || CASE WHEN p_members IS NOT NULL THEN jsonb_build_object('members', p_members)
                ELSE '{}' END
$$;

-- attributes= / excludedAttributes= paths, lower case, without the Group
-- schema's URN.
CREATE OR REPLACE FUNCTION userbulk.scim_group_paths(p_list jsonb)
RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY(SELECT regexp_replace(lower(x), '^urn:ietf:params:scim:schemas:core:2\.0:group:', '')
                   FROM jsonb_array_elements_text(p_list) x)
$$;

-- Whether the selection answers members (so that they are read at all).
CREATE OR REPLACE FUNCTION userbulk.scim_group_wants_members(p_attrs text[], p_excl text[])
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT NOT ('members' = ANY (p_excl))
           AND (p_attrs IS NULL OR EXISTS (SELECT 1 FROM unnest(p_attrs) a
                                            WHERE a = 'members' OR a LIKE 'members.%'))
$$;

-- The filter's description (src/scim_filter.h, the Group attributes:
-- id, displayName) as a WHERE condition over r (userbulk.roles), from
-- fixed fragments: values are read from $3 at their path, never SQL text.
CREATE OR REPLACE FUNCTION userbulk.scim_group_where(p_node jsonb, p_path text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_op text := p_node ->> 'op';
    v_sep text := CASE WHEN p_path = '' THEN '' ELSE ',' END;
    v_col text;
    v_val text;
BEGIN
    IF v_op IN ('and', 'or') THEN
        RETURN '(' || userbulk.scim_group_where(p_node -> 'l', p_path || v_sep || 'l') || ' '
               || upper(v_op) || ' '
               || userbulk.scim_group_where(p_node -> 'r', p_path || v_sep || 'r') || ')';
    ELSIF v_op = 'not' THEN
        RETURN '(NOT coalesce(' || userbulk.scim_group_where(p_node -> 'e', p_path || v_sep || 'e')
               || ', false))';
    END IF;
    v_col := CASE p_node ->> 'a' WHEN 'id' THEN 'r.id::text' WHEN 'displayname' THEN 'r.name::text' END;
    IF v_col IS NULL THEN
        RAISE EXCEPTION 'scim_group_where: no attribute %', p_node ->> 'a' USING ERRCODE = '22023';
    END IF;
    IF v_op = 'pr' THEN
        RETURN 'true';      -- both are always there
    END IF;
    IF jsonb_typeof(p_node -> 'v') = 'null' THEN
        RETURN CASE v_op WHEN 'eq' THEN 'false' WHEN 'ne' THEN 'true' END;
    END IF;
    v_val := format('($3 #>> %L)', '{' || p_path || v_sep || 'v}');
    IF (p_node ->> 'ci')::boolean THEN
        v_col := 'lower(' || v_col || ')';
        v_val := 'lower(' || v_val || ')';
    END IF;
    -- (id and displayName are never absent: ne as IS DISTINCT FROM is <>)
    RETURN userbulk.scim_compare(v_op, v_col, v_val);
END
$$;

-- A refusal row of the entry functions.
CREATE OR REPLACE FUNCTION userbulk.scim_group_refusal(p_status integer, p_type text, p_detail text)
RETURNS TABLE (etag text, resource json, status integer, scim_type text, detail text, id uuid)
LANGUAGE sql IMMUTABLE AS $$
    SELECT NULL::text, NULL::json, p_status, p_type, p_detail, NULL::uuid
$$;

-- GET /scim/v2/Groups: the ListResponse of the account's roles that
-- p_filter matches, in id order, from p_start for at most p_count. Members
-- only when the selection asks for them, and then at most p_max_members
-- over the page (else 400 tooMany: nothing is built). Items carry no
-- meta.version: the digest costs a read of every member id.
CREATE OR REPLACE FUNCTION userbulk.scim_groups(p_account text, p_filter jsonb, p_start integer,
                                                p_count integer, p_attrs jsonb, p_excl jsonb,
                                                p_base text, p_max_members integer)
RETURNS TABLE (etag text, resource json, status integer, scim_type text, detail text, id uuid)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_account uuid := (SELECT a.id FROM userbulk.accounts a WHERE a.code = p_account);
    v_where text := CASE WHEN p_filter IS NULL THEN 'true'
                         ELSE userbulk.scim_group_where(p_filter, '') END;
    v_attrs text[] := CASE WHEN p_attrs IS NOT NULL THEN userbulk.scim_group_paths(p_attrs) END;
    v_excl text[] := userbulk.scim_group_paths(coalesce(p_excl, '[]'));
    v_members boolean;
    v_total bigint;
    v_page uuid[];
    v_count bigint;
    v_list jsonb;
BEGIN
    v_members := userbulk.scim_group_wants_members(v_attrs, v_excl);
    EXECUTE format($q$
        SELECT (SELECT count(*) FROM userbulk.roles r WHERE r.account_id = $1 AND %1$s),
               ARRAY(SELECT r.id FROM userbulk.roles r WHERE r.account_id = $1 AND %1$s
                      ORDER BY r.id OFFSET $4 LIMIT $5)
        $q$, v_where)
       INTO v_total, v_page
      USING v_account, p_base, p_filter, greatest(p_start, 1) - 1, greatest(p_count, 0);
    IF v_members THEN
        SELECT count(*) INTO v_count FROM userbulk.user_roles ur
         WHERE ur.account_id = v_account AND ur.role_id = ANY (v_page);
        IF v_count > p_max_members THEN
            RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(400, 'tooMany',
                format('the page''s groups have %s members, more than the %s a response lists: '
                       'ask with excludedAttributes=members, or a smaller count', v_count, p_max_members));
            RETURN;
        END IF;
    END IF;
    SELECT coalesce(jsonb_agg(userbulk.scim_project(
                        userbulk.scim_group_resource(r.id, r.name,
                            CASE WHEN v_members THEN userbulk.scim_group_members(v_account, r.id, p_base) END,
                            NULL, p_base), v_attrs, v_excl) ORDER BY r.id), '[]')
      INTO v_list
      FROM userbulk.roles r
     WHERE r.account_id = v_account AND r.id = ANY (v_page);
    RETURN QUERY SELECT NULL::text, json_build_object(
        'schemas', json_build_array('urn:ietf:params:scim:api:messages:2.0:ListResponse'),
        'totalResults', v_total,
        'startIndex', greatest(p_start, 1),
        'itemsPerPage', jsonb_array_length(v_list),
        'Resources', v_list), NULL::integer, NULL::text, NULL::text, NULL::uuid;
END
$$;

-- The account's role of id p_id (a text that may not be a uuid), or null.
CREATE OR REPLACE FUNCTION userbulk.scim_group_role(p_account uuid, p_id text)
RETURNS userbulk.roles LANGUAGE sql STABLE AS $$
    SELECT r.* FROM userbulk.roles r
     WHERE r.account_id = p_account
       AND r.id = CASE WHEN p_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                       THEN p_id::uuid END
$$;

-- The role as answered: members when the selection asks for them, at
-- most p_max_members (else 400 tooMany, members not read).
CREATE OR REPLACE FUNCTION userbulk.scim_group_answer(p_account uuid, p_role userbulk.roles,
                                                      p_attrs jsonb, p_excl jsonb, p_base text,
                                                      p_max_members integer)
RETURNS TABLE (etag text, resource json, status integer, scim_type text, detail text, id uuid)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_attrs text[] := CASE WHEN p_attrs IS NOT NULL THEN userbulk.scim_group_paths(p_attrs) END;
    v_excl text[] := userbulk.scim_group_paths(coalesce(p_excl, '[]'));
    v_tag text := userbulk.scim_group_tag(p_account, p_role.id, p_role.name);
    v_count bigint;
BEGIN
    IF userbulk.scim_group_wants_members(v_attrs, v_excl) THEN
        SELECT count(*) INTO v_count FROM userbulk.user_roles ur
         WHERE ur.account_id = p_account AND ur.role_id = p_role.id;
        IF v_count > p_max_members THEN
            RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(400, 'tooMany',
                format('the group has %s members, more than the %s a response lists: '
                       'ask with excludedAttributes=members', v_count, p_max_members));
            RETURN;
        END IF;
        RETURN QUERY SELECT v_tag, userbulk.scim_project(userbulk.scim_group_resource(p_role.id,
                                p_role.name, userbulk.scim_group_members(p_account, p_role.id, p_base),
                                v_tag, p_base), v_attrs, v_excl)::json,
                            NULL::integer, NULL::text, NULL::text, p_role.id;
        RETURN;
    END IF;
    RETURN QUERY SELECT v_tag, userbulk.scim_project(userbulk.scim_group_resource(p_role.id,
                            p_role.name, NULL, v_tag, p_base), v_attrs, v_excl)::json,
                        NULL::integer, NULL::text, NULL::text, p_role.id;
END
$$;

-- GET /scim/v2/Groups/{id}; 404 for a role the account does not have.
CREATE OR REPLACE FUNCTION userbulk.scim_group(p_account text, p_id text, p_attrs jsonb,
                                               p_excl jsonb, p_base text, p_max_members integer)
RETURNS TABLE (etag text, resource json, status integer, scim_type text, detail text, id uuid)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_account uuid := (SELECT a.id FROM userbulk.accounts a WHERE a.code = p_account);
    v_role userbulk.roles := userbulk.scim_group_role(v_account, p_id);
BEGIN
    IF v_role.id IS NULL THEN
        RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(404, NULL, 'no group of this account has this id');
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM userbulk.scim_group_answer(v_account, v_role, p_attrs, p_excl, p_base,
                                                          p_max_members);
END
$$;

-- The membership change of one role, set-based: the final members are
-- (p_reset ? none : the current ones) + p_add - p_remove (the module
-- passes p_add and p_remove disjoint, without repeats, every p_add id a
-- user of the account). Every user whose membership changes is locked in
-- id order (as PUT /users and the POST lock theirs: every writer of
-- user_roles locks the user first), gets version + 1 and an audit row of
-- the request p_request (its roles before and after, as PUT /users
-- writes them; linked to the user's audit row before, and the head of its
-- history: userbulk.user_history), in a few statements whatever the
-- number of members.
-- Answers the number of users changed, or -N (nothing done) when N users
-- would change, more than p_max.
CREATE OR REPLACE FUNCTION userbulk.scim_group_apply(p_account uuid, p_role uuid, p_actor text,
                                                     p_request bigint, p_reset boolean,
                                                     p_add uuid[], p_remove uuid[], p_max integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_changing uuid[];
    v_done integer;
BEGIN
    -- Whose membership changes: the current members against the sets
    -- asked for, through one hash join (no search per member).
    SELECT coalesce(array_agg(coalesce(c.user_id, w.user_id) ORDER BY coalesce(c.user_id, w.user_id)), '{}')
      INTO v_changing
      FROM (SELECT ur.user_id FROM userbulk.user_roles ur
             WHERE ur.account_id = p_account AND ur.role_id = p_role) c
      FULL JOIN (SELECT x AS user_id, true AS member FROM unnest(p_add) x
                 UNION ALL
                 SELECT x, false FROM unnest(p_remove) x) w ON w.user_id = c.user_id
     WHERE (c.user_id IS NOT NULL)
           <> coalesce(w.member, c.user_id IS NOT NULL AND NOT p_reset);
    IF cardinality(v_changing) > p_max THEN
        RETURN -cardinality(v_changing);
    END IF;
    IF cardinality(v_changing) = 0 THEN
        RETURN 0;
    END IF;
    -- Locked in id order, then decided again under the locks: a user's
    -- roles cannot change while it is locked.
    -- (each by its own key, not by "= ANY": a row changed while this
    -- waited is checked again, and that rescan would sort the array)
    PERFORM 1
       FROM (SELECT DISTINCT x FROM unnest(v_changing) AS x ORDER BY x) t
       JOIN userbulk.users u ON u.id = t.x
      WHERE u.account_id = p_account
      ORDER BY u.id
        FOR NO KEY UPDATE OF u;
    -- The rest in a statement of its own, whose snapshot sees what the
    -- writers this one waited for committed: a user's row they changed
    -- (a link written by hand recounts its role_ids, 017) is found where
    -- it is now, and its links as they are. (In the locking statement
    -- itself, the row's new place would be invisible to the UPDATE below:
    -- the links would change, the user and its history would not.)
    WITH locked AS MATERIALIZED (
        SELECT u.id, u.ctid AS at, u.last_change
          FROM (SELECT DISTINCT x FROM unnest(v_changing) AS x ORDER BY x) t
          JOIN userbulk.users u ON u.id = t.x
         WHERE u.account_id = p_account
    ), cur AS MATERIALIZED (
        SELECT l.id, l.at, l.last_change,
               ARRAY(SELECT ur.role_id FROM userbulk.user_roles ur
                      WHERE ur.account_id = p_account AND ur.user_id = l.id ORDER BY ur.role_id) AS before
          FROM locked l
    ), wish AS (
        SELECT x AS user_id, true AS member FROM unnest(p_add) x
        UNION ALL
        SELECT x, false FROM unnest(p_remove) x
    ), diff AS MATERIALIZED (
        SELECT c.id, c.at, c.last_change, c.before, p_role = ANY (c.before) AS was,
               coalesce(w.member, p_role = ANY (c.before) AND NOT p_reset) AS will
          FROM cur c LEFT JOIN wish w ON w.user_id = c.id
    ), ch AS MATERIALIZED (
        SELECT d.id, d.at, d.last_change, d.will, d.before,
               CASE WHEN d.will
                    THEN ARRAY(SELECT x FROM unnest(d.before || p_role) x ORDER BY x)
                    ELSE array_remove(d.before, p_role) END AS after
          FROM diff d WHERE d.was <> d.will
    ), upd AS (
        UPDATE userbulk.users u
           SET version = u.version + 1, updated_at = now(), updated_by = p_actor,
               last_change = p_request
          FROM ch WHERE u.ctid = ch.at AND u.id = ch.id AND u.account_id = p_account
        RETURNING 1
    ), del AS (
        DELETE FROM userbulk.user_roles ur USING ch
         WHERE NOT ch.will AND ur.account_id = p_account AND ur.user_id = ch.id AND ur.role_id = p_role
        RETURNING 1
    ), ins AS (
        INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
        SELECT p_account, ch.id, p_role FROM ch WHERE ch.will
        RETURNING 1
    ), aud AS (
        INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after,
                                           prev_request)
        SELECT p_request, p_account, ch.id, jsonb_build_object('roles', to_jsonb(ch.before)),
               jsonb_build_object('roles', to_jsonb(ch.after)), ch.last_change
          FROM ch
        RETURNING 1
    )
    SELECT count(*) INTO v_done FROM upd;
    RETURN v_done;
END
$$;

-- The first id of p_add (text, in the request's order) that names no user
-- of the account, or null.
CREATE OR REPLACE FUNCTION userbulk.scim_group_stranger(p_account uuid, p_add text[])
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT a.x FROM unnest(p_add) WITH ORDINALITY a(x, o)
      LEFT JOIN userbulk.users u
             ON u.account_id = p_account
            AND u.id = CASE WHEN a.x ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                            THEN a.x::uuid END
     WHERE u.id IS NULL
     ORDER BY a.o LIMIT 1
$$;

-- The audit request of a SCIM change (endpoint 'scim'), made when first
-- needed; p_request keeps it.
CREATE OR REPLACE FUNCTION userbulk.scim_group_request(p_account uuid, p_actor text, p_trace text)
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO userbulk.audit_request (account_id, actor, trace_id, endpoint)
         VALUES (p_account, p_actor, p_trace, 'scim')
      RETURNING id
$$;

-- The membership of p_role as asked, with its audit request; a refusal
-- row when too many users would change (nothing done), else no row.
CREATE OR REPLACE FUNCTION userbulk.scim_group_members_change(
    p_account uuid, p_role uuid, p_actor text, p_trace text, p_reset boolean,
    p_add text[], p_remove text[], p_max integer)
RETURNS TABLE (etag text, resource json, status integer, scim_type text, detail text, id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    v_request bigint;
    v_done integer;
BEGIN
    v_request := userbulk.scim_group_request(p_account, p_actor, p_trace);
    v_done := userbulk.scim_group_apply(p_account, p_role, p_actor, v_request, p_reset,
        ARRAY(SELECT x::uuid FROM unnest(p_add) x),
        -- an id that is no uuid names no member: nothing to remove
        ARRAY(SELECT x::uuid FROM unnest(p_remove) x
               WHERE x ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
        p_max);
    IF v_done < 0 THEN
        RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(400, 'tooMany',
            format('members: the request would change the roles of %s users, more than the %s '
                   'one request may change; send the change in smaller PATCH requests',
                   -v_done, p_max));
        RETURN;
    END IF;
    IF v_done = 0 THEN
        DELETE FROM userbulk.audit_request r WHERE r.account_id = p_account AND r.id = v_request;
    END IF;
END
$$;

-- POST /scim/v2/Groups: a new role of the account named p_name, not
-- default, without privileges (those are configured in the product), with
-- the members p_add (ids as sent). 409 uniqueness for a name the account
-- has; 400 invalidValue naming a member that is no user of the account.
CREATE OR REPLACE FUNCTION userbulk.scim_group_create(p_account text, p_actor text, p_trace text,
                                                      p_name text, p_add text[], p_base text,
                                                      p_max integer)
RETURNS TABLE (etag text, resource json, status integer, scim_type text, detail text, id uuid)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_account uuid := (SELECT a.id FROM userbulk.accounts a WHERE a.code = p_account);
    v_role userbulk.roles;
    v_bad text;
    v_refused boolean := false;
BEGIN
    IF v_account IS NULL THEN
        RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(403, NULL,
            'the token''s account is not in the directory');
        RETURN;
    END IF;
    v_bad := userbulk.scim_group_stranger(v_account, p_add);
    IF v_bad IS NOT NULL THEN
        RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(400, 'invalidValue',
            format('members: %s is no user of the account', left(v_bad, 100)));
        RETURN;
    END IF;
    BEGIN
        INSERT INTO userbulk.roles (account_id, name, is_default) VALUES (v_account, p_name, false)
          RETURNING * INTO v_role;
    EXCEPTION WHEN unique_violation THEN
        RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(409, 'uniqueness',
            'displayName: the account has a group of this name');
        RETURN;
    END;
    FOR etag, resource, status, scim_type, detail, id IN
        SELECT * FROM userbulk.scim_group_members_change(v_account, v_role.id, p_actor, p_trace,
                                                         false, p_add, '{}', p_max) LOOP
        v_refused := true;
        RETURN NEXT;
    END LOOP;
    IF v_refused THEN
        -- nothing of the request stays (the role included)
        RAISE EXCEPTION USING ERRCODE = 'UBGRP';
    END IF;
    RETURN QUERY SELECT * FROM userbulk.scim_group_answer(v_account, v_role, NULL, NULL, p_base, p_max);
EXCEPTION WHEN SQLSTATE 'UBGRP' THEN
    RETURN;     -- the refusal row was returned before
END
$fn$;

-- PATCH and PUT /scim/v2/Groups/{id}: p_name (NULL: unchanged) and the
-- membership (scim_group_members_change), all or nothing. p_tags: the
-- If-Match entity tags (opaque parts; NULL: no If-Match, '*' any): 412
-- unless the group's digest is one of them. p_answer: answer the group
-- (PUT), else only its new ETag (PATCH answers 204).
CREATE OR REPLACE FUNCTION userbulk.scim_group_change(
    p_account text, p_actor text, p_trace text, p_id text, p_name text, p_reset boolean,
    p_add text[], p_remove text[], p_tags text[], p_base text, p_max integer, p_answer boolean)
RETURNS TABLE (etag text, resource json, status integer, scim_type text, detail text, id uuid)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_account uuid := (SELECT a.id FROM userbulk.accounts a WHERE a.code = p_account);
    v_role userbulk.roles;
    v_bad text;
    v_attempt integer := 0;
    v_refused boolean;
BEGIN
    LOOP
        BEGIN
            v_refused := false;
            -- The role first: SCIM changes of one group queue here (a key
            -- share lock, which PUT /users and the POST take when they
            -- give the role, does not wait for this one).
            SELECT r.* INTO v_role FROM userbulk.roles r
             WHERE r.account_id = v_account AND r.id = (userbulk.scim_group_role(v_account, p_id)).id
               FOR NO KEY UPDATE;
            IF v_role.id IS NULL THEN
                RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(404, NULL,
                    'no group of this account has this id');
                RETURN;
            END IF;
            IF p_tags IS NOT NULL AND NOT ('*' = ANY (p_tags))
               AND NOT (userbulk.scim_group_tag(v_account, v_role.id, v_role.name) = ANY (p_tags)) THEN
                RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(412, NULL,
                    'If-Match: the group changed since it was read (its ETag is now W/"'
                    || userbulk.scim_group_tag(v_account, v_role.id, v_role.name) || '")');
                RETURN;
            END IF;
            v_bad := userbulk.scim_group_stranger(v_account, p_add);
            IF v_bad IS NOT NULL THEN
                RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(400, 'invalidValue',
                    format('members: %s is no user of the account', left(v_bad, 100)));
                RETURN;
            END IF;
            IF p_name IS NOT NULL AND p_name <> v_role.name AND EXISTS (
                   SELECT 1 FROM userbulk.roles r WHERE r.account_id = v_account AND r.name = p_name) THEN
                RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(409, 'uniqueness',
                    'displayName: the account has another group of this name');
                RETURN;
            END IF;
            FOR etag, resource, status, scim_type, detail, id IN
                SELECT * FROM userbulk.scim_group_members_change(v_account, v_role.id, p_actor,
                                  p_trace, p_reset, p_add, p_remove, p_max) LOOP
                v_refused := true;
                RETURN NEXT;
            END LOOP;
            IF v_refused THEN
                RAISE EXCEPTION USING ERRCODE = 'UBGRP';
            END IF;
            -- Renamed last, once the members are locked: its lock waits
            -- for the requests giving the role, which hold all their users.
            IF p_name IS NOT NULL AND p_name <> v_role.name THEN
                UPDATE userbulk.roles r SET name = p_name WHERE r.account_id = v_account AND r.id = v_role.id
                  RETURNING * INTO v_role;
            END IF;
            EXIT;
        EXCEPTION
            WHEN SQLSTATE 'UBGRP' THEN
                RETURN;     -- refused (answered above), nothing stays
            WHEN unique_violation THEN
                -- another request took the name meanwhile
                IF v_attempt < 4 AND EXISTS (SELECT 1 FROM userbulk.roles r
                                              WHERE r.account_id = v_account AND r.name = p_name
                                                AND r.id <> v_role.id) THEN
                    RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(409, 'uniqueness',
                        'displayName: the account has another group of this name');
                    RETURN;
                END IF;
                v_attempt := v_attempt + 1;
                IF NOT userbulk.retried('23505', v_attempt) THEN
                    RAISE;
                END IF;
            WHEN OTHERS THEN
                v_attempt := v_attempt + 1;
                IF NOT userbulk.retried(SQLSTATE, v_attempt) THEN
                    RAISE;
                END IF;
        END;
    END LOOP;
    IF p_answer THEN
        RETURN QUERY SELECT * FROM userbulk.scim_group_answer(v_account, v_role, NULL, NULL, p_base, p_max);
        RETURN;
    END IF;
    RETURN QUERY SELECT userbulk.scim_group_tag(v_account, v_role.id, v_role.name), NULL::json,
                        NULL::integer, NULL::text, NULL::text, v_role.id;
END
$fn$;

-- DELETE /scim/v2/Groups/{id}: the role goes, its members lose it (each
-- member: version + 1 and an audit row, as a PATCH removing them), its
-- privilege rows with it. Refused (409) for a role that carries
-- privileges: those are configured in the product, and an IdP's group
-- deletion is not to take them away; and (400 tooMany) for a role with
-- more members than one request may change.
CREATE OR REPLACE FUNCTION userbulk.scim_group_delete(p_account text, p_actor text, p_trace text,
                                                      p_id text, p_tags text[], p_max integer)
RETURNS TABLE (etag text, resource json, status integer, scim_type text, detail text, id uuid)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_account uuid := (SELECT a.id FROM userbulk.accounts a WHERE a.code = p_account);
    v_role userbulk.roles;
    v_attempt integer := 0;
    v_refused boolean;
BEGIN
    LOOP
        BEGIN
            v_refused := false;
            SELECT r.* INTO v_role FROM userbulk.roles r
             WHERE r.account_id = v_account AND r.id = (userbulk.scim_group_role(v_account, p_id)).id
               FOR NO KEY UPDATE;
            IF v_role.id IS NULL THEN
                RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(404, NULL,
                    'no group of this account has this id');
                RETURN;
            END IF;
            IF p_tags IS NOT NULL AND NOT ('*' = ANY (p_tags))
               AND NOT (userbulk.scim_group_tag(v_account, v_role.id, v_role.name) = ANY (p_tags)) THEN
                RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(412, NULL,
                    'If-Match: the group changed since it was read');
                RETURN;
            END IF;
            IF EXISTS (SELECT 1 FROM userbulk.role_privileges rp
                        WHERE rp.account_id = v_account AND rp.role_id = v_role.id) THEN
                RETURN QUERY SELECT * FROM userbulk.scim_group_refusal(409, NULL,
                    'the group is a role that carries privileges configured in the product: '
                    'it is not deleted through SCIM (remove its members by PATCH, or delete it in the product)');
                RETURN;
            END IF;
            FOR etag, resource, status, scim_type, detail, id IN
                SELECT * FROM userbulk.scim_group_members_change(v_account, v_role.id, p_actor,
                                  p_trace, true, '{}', '{}', p_max) LOOP
                v_refused := true;
                RETURN NEXT;
            END LOOP;
            IF v_refused THEN
                RAISE EXCEPTION USING ERRCODE = 'UBGRP';
            END IF;
            -- A member given the role meanwhile by PUT /users or the POST
            -- makes this fail (23503, the links' check of migration 015): retried, it is removed too.
            DELETE FROM userbulk.roles r WHERE r.id = v_role.id AND r.account_id = v_account;
            EXIT;
        EXCEPTION
            WHEN SQLSTATE 'UBGRP' THEN
                RETURN;
            WHEN OTHERS THEN
                v_attempt := v_attempt + 1;
                IF NOT userbulk.retried(SQLSTATE, v_attempt) THEN
                    RAISE;
                END IF;
        END;
    END LOOP;
    RETURN QUERY SELECT NULL::text, NULL::json, NULL::integer, NULL::text, NULL::text, v_role.id;
END
$fn$;
