-- SCIM 2.0, read side (RFC 7643, RFC 7644): an account's users as SCIM
-- User resources. Entry functions: scim_users (the list, with a filter and
-- a page), scim_user (one by id); the others are their helpers.
--
-- Mapping (README, SCIM): id = users.id; externalId = external_id;
-- userName = user_name; name = first_name (givenName), middle_name,
-- last_name (familyName); displayName; emails = [email, type work,
-- primary]; phoneNumbers = phone1 (work, primary), phone2 (mobile); active
-- = NOT locked_out (the status column is not part of it); the enterprise
-- extension: employeeNumber = employee_code, department = department_code
-- (the account's codes), manager.value = manager_id; meta.created =
-- created_at (absent for users older than migration 010), meta.lastModified
-- = updated_at, meta.version = the row version as a weak ETag.

-- A user as a SCIM User resource, meta.location under p_base (the SCIM
-- base URL); absent values are left out.
CREATE OR REPLACE FUNCTION userbulk.scim_resource(u userbulk.users, p_base text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'schemas', CASE WHEN u.employee_code IS NULL AND u.department_code IS NULL
                             AND u.manager_id IS NULL
                        THEN jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User')
                        ELSE jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User',
                                 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User') END,
        'id', u.id,
        'externalId', u.external_id,
        'userName', u.user_name,
        'name', nullif(jsonb_strip_nulls(jsonb_build_object(
                    'givenName', u.first_name, 'middleName', u.middle_name,
                    'familyName', u.last_name)), '{}'::jsonb),
        'displayName', u.display_name,
        'emails', jsonb_build_array(jsonb_build_object('value', u.email, 'type', 'work',
                                                       'primary', true)),
        'phoneNumbers', (SELECT jsonb_agg(p.v ORDER BY p.n)
                           FROM (VALUES (1, CASE WHEN u.phone1 IS NOT NULL THEN
                                            jsonb_build_object('value', u.phone1, 'type', 'work',
                                                               'primary', true) END),
                                        (2, CASE WHEN u.phone2 IS NOT NULL THEN
                                            jsonb_build_object('value', u.phone2, 'type', 'mobile') END)
                                ) p(n, v)
                          WHERE p.v IS NOT NULL),
        'active', NOT u.locked_out,
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
            nullif(jsonb_strip_nulls(jsonb_build_object(
                'employeeNumber', u.employee_code,
                'department', u.department_code,
                'manager', CASE WHEN u.manager_id IS NOT NULL THEN
                               jsonb_build_object('value', u.manager_id,
                                   '$ref', p_base || '/Users/' || u.manager_id) END)),
                '{}'::jsonb),
        'meta', jsonb_build_object('resourceType', 'User',
                                   'created', userbulk.iso(u.created_at),
                                   'lastModified', userbulk.iso(u.updated_at),
                                   'version', 'W/"' || u.version || '"',
                                   'location', p_base || '/Users/' || u.id)))
$$;

-- A sub-attribute selection (RFC 7644 section 3.9) inside the value v of
-- the top-level attribute prefix: keep (true) the sub-attributes named in
-- p_names ("name.givenname", lower case), or drop (false) them. Arrays of
-- complex values (emails, a group's members) are selected element by
-- element in one query, not a call per element. PL/pgSQL, not SQL: a
-- recursive SQL function is never inlined, and each call of it was
-- planned again (about a millisecond per listed user).
CREATE OR REPLACE FUNCTION userbulk.scim_project_sub(v jsonb, prefix text, p_names text[],
                                                     keep boolean)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    o jsonb := '{}';
    k text;
    x jsonb;
BEGIN
    CASE jsonb_typeof(v)
    WHEN 'object' THEN
        -- a handful of keys: built in place
        FOR k, x IN SELECT e.key, e.value FROM jsonb_each(v) e LOOP
            IF (prefix || '.' || lower(k) = ANY (p_names)) = keep THEN
                o := o || jsonb_build_object(k, x);
            END IF;
        END LOOP;
        RETURN CASE WHEN keep AND o = '{}' THEN NULL ELSE o END;
    WHEN 'array' THEN
        -- up to a group's 10,000 members: one aggregate, linear
        RETURN (SELECT jsonb_agg(y.s ORDER BY y.n)
                  FROM (SELECT a.n,
                               CASE jsonb_typeof(a.v)
                                   WHEN 'object' THEN
                                       (SELECT CASE WHEN keep THEN nullif(q.o, '{}'::jsonb) ELSE q.o END
                                          FROM (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb) AS o
                                                  FROM jsonb_each(a.v) e
                                                 WHERE (prefix || '.' || lower(e.key) = ANY (p_names)) = keep) q)
                                   WHEN 'array' THEN userbulk.scim_project_sub(a.v, prefix, p_names, keep)
                                   ELSE CASE WHEN keep THEN NULL ELSE a.v END
                               END AS s
                          FROM jsonb_array_elements(v) WITH ORDINALITY a(v, n)) y
                 WHERE y.s IS NOT NULL);
    ELSE
        RETURN CASE WHEN keep THEN NULL ELSE v END;
    END CASE;
END
$$;

-- attributes / excludedAttributes (RFC 7644 section 3.4.2.5): with
-- p_attrs (lower-case paths), only those and the attributes returned
-- always (id, schemas); else all but p_excl's. id and schemas are never
-- excluded. Neither given (most lists): the resource as it is.
CREATE OR REPLACE FUNCTION userbulk.scim_project(r jsonb, p_attrs text[], p_excl text[])
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    o jsonb := '{}';
    k text;
    x jsonb;
    s jsonb;
BEGIN
    IF p_attrs IS NULL AND coalesce(cardinality(p_excl), 0) = 0 THEN
        RETURN r;
    END IF;
    FOR k, x IN SELECT e.key, e.value FROM jsonb_each(r) e LOOP
        s := CASE WHEN k IN ('id', 'schemas') THEN x
                  WHEN p_attrs IS NOT NULL AND lower(k) = ANY (p_attrs) THEN x
                  WHEN p_attrs IS NOT NULL
                      THEN userbulk.scim_project_sub(x, lower(k), p_attrs, true)
                  WHEN lower(k) = ANY (p_excl) THEN NULL
                  ELSE userbulk.scim_project_sub(x, lower(k), p_excl, false)
             END;
        IF s IS NOT NULL THEN
            o := o || jsonb_build_object(k, s);
        END IF;
    END LOOP;
    RETURN o;
END
$$;

-- The filter's description (src/scim_filter.h) as a WHERE condition over
-- u (userbulk.users), from fixed fragments only: a value is referenced as
-- the text at its path in the description, which the caller passes as the
-- parameter $3 of EXECUTE; it never becomes SQL text. p_path is the node's
-- path in the description ('' for the root). An attribute or operator it
-- does not know raises 22023.
CREATE OR REPLACE FUNCTION userbulk.scim_where(p_node jsonb, p_path text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_op text := p_node ->> 'op';
    v_attr text := p_node ->> 'a';
    v_col text;
    v_val text;
    v_sep text := CASE WHEN p_path = '' THEN '' ELSE ',' END;
BEGIN
    IF v_op IN ('and', 'or') THEN
        RETURN '(' || userbulk.scim_where(p_node -> 'l', p_path || v_sep || 'l') || ' '
               || upper(v_op) || ' '
               || userbulk.scim_where(p_node -> 'r', p_path || v_sep || 'r') || ')';
    ELSIF v_op = 'not' THEN
        RETURN '(NOT coalesce(' || userbulk.scim_where(p_node -> 'e', p_path || v_sep || 'e')
               || ', false))';
    ELSIF v_op = 'has' THEN
        -- Some phone number satisfies the condition, which names its
        -- sub-attributes (ph.value, ph.type): the two columns as the
        -- resource shows them, absent ones left out.
        IF v_attr IS DISTINCT FROM 'phonenumbers' THEN
            RAISE EXCEPTION 'scim_where: no multi-valued attribute %', v_attr USING ERRCODE = '22023';
        END IF;
        RETURN '(EXISTS (SELECT FROM (VALUES (u.phone1::text, ''work''), (u.phone2::text, ''mobile''))'
               || ' ph(value, type) WHERE ph.value IS NOT NULL AND coalesce('
               || userbulk.scim_where(p_node -> 'e', p_path || v_sep || 'e') || ', false)))';
    END IF;
    v_col := CASE v_attr
        WHEN 'id' THEN 'u.id::text'
        WHEN 'externalid' THEN 'u.external_id'
        WHEN 'username' THEN 'u.user_name'
        WHEN 'displayname' THEN 'u.display_name'
        WHEN 'name.givenname' THEN 'u.first_name'
        WHEN 'name.familyname' THEN 'u.last_name'
        WHEN 'name.middlename' THEN 'u.middle_name'
        WHEN 'emails.value' THEN 'u.email'
        WHEN 'emails.type' THEN '''work''::text'
        -- inside a 'has' only (scim_filter.c writes them nowhere else)
        WHEN 'phonenumbers.value' THEN 'ph.value'
        WHEN 'phonenumbers.type' THEN 'ph.type'
        WHEN 'active' THEN '(NOT u.locked_out)'
        WHEN 'meta.lastmodified' THEN 'u.updated_at'
    END;
    IF v_col IS NULL THEN
        RAISE EXCEPTION 'scim_where: no attribute %', v_attr USING ERRCODE = '22023';
    END IF;
    IF v_op = 'pr' THEN
        RETURN CASE v_attr WHEN 'active' THEN 'true'
                           WHEN 'meta.lastmodified' THEN '(' || v_col || ' IS NOT NULL)'
                           ELSE 'coalesce(' || v_col || ' <> '''', false)' END;
    END IF;
    IF jsonb_typeof(p_node -> 'v') = 'null' THEN
        RETURN CASE v_op WHEN 'eq' THEN '(' || v_col || ' IS NULL)'
                         WHEN 'ne' THEN '(' || v_col || ' IS NOT NULL)' END;
    END IF;
    -- The value: the text at {path,v} of $3.
    v_val := format('($3 #>> %L)', '{' || p_path || v_sep || 'v}');
    IF v_attr = 'active' THEN
        v_val := v_val || '::boolean';
    ELSIF v_attr = 'meta.lastmodified' THEN
        v_val := v_val || '::timestamptz';
    ELSIF (p_node ->> 'ci')::boolean THEN
        v_col := 'lower(' || v_col || ')';
        v_val := 'lower(' || v_val || ')';
    END IF;
    -- Bare comparisons, so that an index on the column (009) answers them;
    -- a comparison with an absent value is null, which WHERE takes as
    -- false and NOT is made to see as false too. ne holds where the
    -- attribute has no value (it is not the value).
    RETURN userbulk.scim_compare(v_op, v_col, v_val);
END
$$;

CREATE OR REPLACE FUNCTION userbulk.scim_where_refused(p_op text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RAISE EXCEPTION 'scim_where: no operator %', p_op USING ERRCODE = '22023';
END
$$;

-- One comparison of a filter (Users' and Groups') as SQL: p_col and p_val
-- are fixed fragments (a column, a reference to the parameter $3), never
-- a value. ne holds where the attribute has no value (it is not the
-- value); an operator outside the list is refused (22023).
CREATE OR REPLACE FUNCTION userbulk.scim_compare(p_op text, p_col text, p_val text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_op
        WHEN 'eq' THEN '(' || p_col || ' = ' || p_val || ')'
        WHEN 'ne' THEN '(' || p_col || ' IS DISTINCT FROM ' || p_val || ')'
        WHEN 'co' THEN '(strpos(' || p_col || ', ' || p_val || ') > 0)'
        WHEN 'sw' THEN 'starts_with(' || p_col || ', ' || p_val || ')'
        WHEN 'ew' THEN '(right(' || p_col || ', length(' || p_val || ')) = ' || p_val || ')'
        WHEN 'gt' THEN '(' || p_col || ' > ' || p_val || ')'
        WHEN 'ge' THEN '(' || p_col || ' >= ' || p_val || ')'
        WHEN 'lt' THEN '(' || p_col || ' < ' || p_val || ')'
        WHEN 'le' THEN '(' || p_col || ' <= ' || p_val || ')'
        ELSE userbulk.scim_where_refused(p_op)
    END
$$;

-- GET /scim/v2/Users: the ListResponse (RFC 7644 section 3.4.2) of the
-- account's users that p_filter (a description, or NULL for all) matches,
-- in id order, from p_start (1-based) for at most p_count. The page is
-- one index scan of users (account_id, id), stopped after it; totalResults
-- counts the matches (by userName: index 009). p_attrs, p_excl: JSON
-- arrays of attribute paths, or NULL.
CREATE OR REPLACE FUNCTION userbulk.scim_users(p_account text, p_filter jsonb, p_start integer,
                                               p_count integer, p_attrs jsonb, p_excl jsonb,
                                               p_base text)
RETURNS json LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_account uuid := (SELECT a.id FROM userbulk.accounts a WHERE a.code = p_account);
    v_where text := CASE WHEN p_filter IS NULL THEN 'true'
                         ELSE userbulk.scim_where(p_filter, '') END;
    v_attrs text[] := CASE WHEN p_attrs IS NOT NULL THEN
                          ARRAY(SELECT lower(x) FROM jsonb_array_elements_text(p_attrs) x) END;
    v_excl text[] := ARRAY(SELECT lower(x)
                             FROM jsonb_array_elements_text(coalesce(p_excl, '[]')) x);
    v_total bigint;
    v_page jsonb;
BEGIN
    EXECUTE format($q$
        SELECT (SELECT count(*) FROM userbulk.users u WHERE u.account_id = $1 AND %1$s),
               (SELECT coalesce(jsonb_agg(userbulk.scim_project(
                                    userbulk.scim_resource(p.u, $2), $4, $5)
                                  ORDER BY (p.u).id), '[]'::jsonb)
                  FROM (SELECT u FROM userbulk.users u
                         WHERE u.account_id = $1 AND %1$s
                         ORDER BY u.id OFFSET $6 LIMIT $7) p)
        $q$, v_where)
       INTO v_total, v_page
      USING v_account, p_base, p_filter, v_attrs, v_excl, greatest(p_start, 1) - 1,
            greatest(p_count, 0);
    RETURN json_build_object(
        'schemas', json_build_array('urn:ietf:params:scim:api:messages:2.0:ListResponse'),
        'totalResults', v_total,
        'startIndex', greatest(p_start, 1),
        'itemsPerPage', jsonb_array_length(v_page),
        'Resources', v_page);
END
$$;

-- GET /scim/v2/Users/{id}: the user's version (for the ETag) and the
-- resource; one row of nulls when the account has no user of that id
-- (another account's user included).
CREATE OR REPLACE FUNCTION userbulk.scim_user(p_account text, p_id text, p_attrs jsonb,
                                              p_excl jsonb, p_base text)
RETURNS TABLE (version bigint, resource json) LANGUAGE sql STABLE AS $$
    SELECT f.version, f.resource
      FROM (SELECT 1) one
      LEFT JOIN LATERAL (
           SELECT u.version,
                  userbulk.scim_project(userbulk.scim_resource(u, p_base),
                      CASE WHEN p_attrs IS NOT NULL THEN
                          ARRAY(SELECT lower(x) FROM jsonb_array_elements_text(p_attrs) x) END,
                      ARRAY(SELECT lower(x)
                              FROM jsonb_array_elements_text(coalesce(p_excl, '[]')) x))::json
                  AS resource
             FROM userbulk.users u
            WHERE u.account_id = (SELECT a.id FROM userbulk.accounts a WHERE a.code = p_account)
              AND u.id = CASE WHEN p_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                              THEN p_id::uuid END) f ON true
$$;
