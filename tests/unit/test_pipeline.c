/*
 * test_pipeline.c: one request through the core without httpd: which
 * handler and method reach which endpoint, the order of the checks, which
 * refusals close the connection, and the form each API answers in.
 */
#include <string.h>
#include "unit.h"
#include "pipeline.h"
#include "scim_users.h"
#include "errors.h"

#define ACME "acme"

/* The body the fake reader hands over, and what it was asked. */
typedef struct {
    const char *body;
    int status;             /* what the reader answers: 0, 413, 500 */
    int calls;
    apr_off_t limit;
} fake_body;

static int read_fake_body(void *baton, apr_off_t limit, const char **buf,
                          apr_size_t *len, ub_problem *problem)
{
    fake_body *fb = baton;

    fb->calls++;
    fb->limit = limit;
    if (fb->status == 413) {
        ub_problem_set(problem, 413, "body_too_large", "too large", "smaller");
        return 413;
    }
    if (fb->status != 0) {
        return fb->status;      /* the server's own failure: no problem body */
    }
    *buf = fb->body;
    *len = strlen(fb->body);
    return 0;
}

/* No database: a request that gets as far as the store is a 503. */
static int acquisitions;
static ub_db *no_database(void *baton)
{
    acquisitions++;
    return NULL;
}

typedef struct {
    ub_request req;
    ub_http_in in;
    fake_body body;
    ub_db_source dbs;
    apr_bucket_brigade *bb;
    ub_http_out out;
} call;

static call *new_call(ub_handler handler, const char *method)
{
    call *c = apr_pcalloc(ut_pool, sizeof(*c));

    c->req = ut_request(1000);
    c->req.trace_id = "0123456789abcdef0123456789abcdef";
    c->in.handler = handler;
    c->in.method = method;
    c->in.uri = handler == UB_HANDLER_ACCOUNT ? "/api/v1/account/users/update" : "/users";
    c->in.content_type = handler == UB_HANDLER_ACCOUNT ? "application/json-patch+json"
                                                       : "application/json";
    c->in.account_set = 1;
    c->in.account = ACME;
    c->in.actor = "alice";
    c->in.max_records = 1000;
    c->in.max_body = 8 * 1024 * 1024;
    c->in.retry_after = 7;
    c->in.read_body = read_fake_body;
    c->in.body_baton = &c->body;
    c->body.body = handler == UB_HANDLER_ACCOUNT
        ? "{\"userIds\":[\"20000000-0000-4000-8000-000000000001\"],\"isSSOUser\":true}"
        : "[{\"userName\":\"alice.acme\",\"email\":\"alice@acme.example\"}]";
    c->dbs.acquire = no_database;
    c->bb = ut_brigade();
    acquisitions = 0;
    return c;
}

static json_t *serve(call *c)
{
    ck_assert_int_eq(ub_serve(&c->req, &c->in, &c->dbs, c->bb, &c->out), APR_SUCCESS);
    return c->out.rendered ? ut_parse(ut_flatten(c->bb)) : NULL;
}

static const char *header(const call *c, const char *name)
{
    return apr_table_get(c->out.headers, name);
}

START_TEST(put_is_served_by_the_users_handler)
{
    call *c = new_call(UB_HANDLER_USERS, "PUT");
    json_t *doc = serve(c);

    /* it reached the store: no database, so 503 in the seed's error form */
    ck_assert_int_eq(c->out.status, 503);
    ck_assert_int_eq(acquisitions, 1);
    ck_assert_int_eq(c->body.calls, 1);
    ck_assert(c->body.limit == 8 * 1024 * 1024);
    ut_assert_json_str(doc, "code", "unavailable");
    ck_assert_str_eq(header(c, "Retry-After"), "7");
    ck_assert_str_eq(c->out.content_type, "application/json");
    ck_assert(c->out.counted);
    ck_assert_int_eq(c->out.counter, UB_CTR_PUT_USERS);
    ck_assert_str_eq(c->out.endpoint_key, "put_users");
    ck_assert(!c->out.close_connection);
    ck_assert_str_eq(c->req.account, ACME);
    ck_assert_str_eq(c->req.actor, "alice");
}
END_TEST

START_TEST(post_is_served_by_the_account_handler_in_its_envelope)
{
    call *c = new_call(UB_HANDLER_ACCOUNT, "POST");
    json_t *doc = serve(c);

    ck_assert_int_eq(c->out.status, 503);
    ut_assert_json_int(doc, "messageCode", 503);
    ut_assert_json_str(doc, "traceid", "0123456789abcdef0123456789abcdef");
    ck_assert_int_eq(c->out.counter, UB_CTR_ACCOUNT_UPDATE);
    ck_assert_str_eq(c->out.endpoint_key, "account_update");
}
END_TEST

START_TEST(post_answers_text_when_the_client_prefers_it)
{
    call *c = new_call(UB_HANDLER_ACCOUNT, "POST");

    c->in.accept = "text/plain";
    serve(c);
    ck_assert_str_eq(c->out.content_type, "text/plain; charset=utf-8");
}
END_TEST

START_TEST(a_method_the_handler_does_not_answer_is_405_and_closes)
{
    call *c = new_call(UB_HANDLER_USERS, "GET");
    json_t *doc = serve(c);

    ck_assert_int_eq(c->out.status, 405);
    ck_assert_str_eq(header(c, "Allow"), "PUT");
    ut_assert_json_str(doc, "code", "method_not_allowed");
    ck_assert(c->out.close_connection);
    ck_assert_int_eq(c->body.calls, 0);
    ck_assert(!c->out.counted);

    c = new_call(UB_HANDLER_ACCOUNT, "PUT");
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 405);
    ck_assert_str_eq(header(c, "Allow"), "POST");
    ut_assert_json_int(doc, "messageCode", 405);
}
END_TEST

START_TEST(read_back_opens_get_on_the_users_handler)
{
    call *c = new_call(UB_HANDLER_USERS, "DELETE");

    c->in.read_back = 1;
    serve(c);
    ck_assert_int_eq(c->out.status, 405);
    ck_assert_str_eq(header(c, "Allow"), "GET, PUT");

    c = new_call(UB_HANDLER_USERS, "GET");
    c->in.read_back = 1;
    c->in.args = "userName=alice.acme";
    serve(c);
    ck_assert_int_eq(c->out.status, 503);
    ck_assert_int_eq(c->out.counter, UB_CTR_GET_USERS);
    ck_assert_str_eq(c->out.endpoint_key, "get_users");
    ck_assert_int_eq(c->body.calls, 0);
}
END_TEST

START_TEST(a_token_not_valid_yet_is_401_before_anything_else)
{
    call *c = new_call(UB_HANDLER_USERS, "DELETE");     /* a wrong method too */
    json_t *doc;

    c->in.request_time = apr_time_from_sec(1000000);
    c->in.not_before = "2000000";
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 401);
    ut_assert_json_str(doc, "code", "unauthorized");
    ck_assert_ptr_nonnull(strstr(header(c, "WWW-Authenticate"), "invalid_token"));
    ck_assert(!c->out.close_connection);

    c = new_call(UB_HANDLER_USERS, "PUT");
    c->in.request_time = apr_time_from_sec(1000000);
    c->in.not_before = "1000030";                       /* within the leeway */
    serve(c);
    ck_assert_int_eq(c->out.status, 503);
}
END_TEST

START_TEST(no_account_directive_is_the_servers_500)
{
    call *c = new_call(UB_HANDLER_USERS, "PUT");

    c->in.account_set = 0;
    serve(c);
    ck_assert_int_eq(c->out.status, 500);
    ck_assert(!c->out.rendered);
    ck_assert_int_eq(c->body.calls, 0);
}
END_TEST

START_TEST(an_empty_account_is_403_and_closes)
{
    call *c = new_call(UB_HANDLER_ACCOUNT, "POST");
    json_t *doc;

    c->in.account = "";
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 403);
    ut_assert_json_int(doc, "messageCode", 403);
    ck_assert(c->out.close_connection);
    ck_assert_int_eq(c->body.calls, 0);
    ck_assert_int_eq(acquisitions, 0);
}
END_TEST

START_TEST(an_empty_actor_is_403_and_closes)
{
    call *c = new_call(UB_HANDLER_USERS, "PUT");
    json_t *doc;

    c->in.actor = "";
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 403);
    ut_assert_json_str(doc, "code", "no_actor");
    ck_assert(c->out.close_connection);
    ck_assert_int_eq(c->body.calls, 0);
    ck_assert_int_eq(acquisitions, 0);
}
END_TEST

START_TEST(put_options_are_read_before_the_body)
{
    call *c = new_call(UB_HANDLER_USERS, "PUT");
    json_t *doc;

    c->in.args = "atomic=maybe";
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 400);
    ut_assert_json_str(doc, "code", "invalid_query");
    ck_assert(c->out.close_connection);
    ck_assert_int_eq(c->body.calls, 0);

    c = new_call(UB_HANDLER_USERS, "PUT");
    c->in.prefer = "return=minimal, tx=rollback";
    serve(c);
    ck_assert_str_eq(header(c, "Preference-Applied"), "tx=rollback");
    ck_assert(c->req.dry_run);
}
END_TEST

START_TEST(a_wrong_media_type_is_415_and_the_body_is_not_read)
{
    call *c = new_call(UB_HANDLER_USERS, "PUT");
    json_t *doc;

    c->in.content_type = "text/plain";
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 415);
    ut_assert_json_str(doc, "code", "unsupported_media_type");
    ck_assert(c->out.close_connection);
    ck_assert_int_eq(c->body.calls, 0);
}
END_TEST

START_TEST(a_body_refused_by_the_reader_is_answered_and_closes)
{
    call *c = new_call(UB_HANDLER_USERS, "PUT");
    json_t *doc;

    c->body.status = 413;
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 413);
    ut_assert_json_str(doc, "code", "body_too_large");
    ck_assert(c->out.close_connection);
    ck_assert_int_eq(acquisitions, 0);

    c = new_call(UB_HANDLER_USERS, "PUT");
    c->body.status = 500;
    serve(c);
    ck_assert_int_eq(c->out.status, 500);
    ck_assert(!c->out.rendered);
    ck_assert(c->out.close_connection);
}
END_TEST

START_TEST(error_documents_answer_in_the_form_of_the_api)
{
    call *c = new_call(UB_HANDLER_ERRORS, "GET");
    json_t *doc;

    c->in.error_status = 401;
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 401);
    ut_assert_json_str(doc, "code", "unauthorized");
    ck_assert(c->out.counted);
    ck_assert_int_eq(c->out.counter, UB_CTR_ERROR_BODY);
    ck_assert_int_eq(c->out.outcome.status, 401);
    ck_assert_ptr_null(c->out.endpoint_key);
    ck_assert(!c->out.close_connection);

    c = new_call(UB_HANDLER_ERRORS, "POST");
    c->in.error_status = 403;
    c->in.error_for_account_api = 1;
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 403);
    ut_assert_json_int(doc, "messageCode", 403);

    c = new_call(UB_HANDLER_ERRORS, "GET");
    doc = serve(c);                                     /* asked directly */
    ck_assert_int_eq(c->out.status, 404);
    ut_assert_json_str(doc, "code", "not_found");

    c = new_call(UB_HANDLER_ERRORS, "GET");
    c->in.error_status = 502;
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 502);
    ut_assert_json_str(doc, "code", "http_error");
}
END_TEST

/* ---- token nbf ------------------------------------------------------ */

START_TEST(not_yet_valid_when_nbf_is_past_the_leeway)
{
    apr_time_t now = apr_time_from_sec(1800000000);

    ck_assert_int_eq(ub_not_yet_valid("1800003600", now, 60), 1);
    ck_assert_int_eq(ub_not_yet_valid("1800000061", now, 60), 1);
}
END_TEST

START_TEST(valid_when_nbf_is_past_or_within_the_leeway)
{
    apr_time_t now = apr_time_from_sec(1800000000);

    ck_assert_int_eq(ub_not_yet_valid("1799990000", now, 60), 0);
    ck_assert_int_eq(ub_not_yet_valid("1800000060", now, 60), 0);
    ck_assert_int_eq(ub_not_yet_valid("1800000000.5", now, 60), 0);
}
END_TEST

START_TEST(not_yet_valid_when_nbf_is_not_a_number)
{
    apr_time_t now = apr_time_from_sec(1800000000);

    ck_assert_int_eq(ub_not_yet_valid("soon", now, 60), 1);
    ck_assert_int_eq(ub_not_yet_valid("12abc", now, 60), 1);
}
END_TEST

/* SCIM: a call to uri under /scim/v2. */
static call *scim_call(const char *method, const char *uri)
{
    call *c = new_call(UB_HANDLER_SCIM, method);

    c->in.uri = uri;
    c->in.origin = "https://h:8443";
    return c;
}

static const char *scim_detail_status(json_t *doc)
{
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "schemas"), 0)),
                     "urn:ietf:params:scim:api:messages:2.0:Error");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(doc, "detail")));
    return json_string_value(json_object_get(doc, "status"));
}

START_TEST(scim_routes_by_path_and_method)
{
    call *c = scim_call("GET", "/scim/v2/Users");
    json_t *doc = serve(c);

    /* it reached the store: no database, 503 as a SCIM error */
    ck_assert_int_eq(c->out.status, 503);
    ck_assert_int_eq(acquisitions, 1);
    ck_assert_str_eq(scim_detail_status(doc), "503");
    ck_assert_str_eq(c->out.content_type, "application/scim+json");
    ck_assert_str_eq(header(c, "Retry-After"), "7");
    ck_assert_int_eq(c->out.counter, UB_CTR_SCIM);
    ck_assert_str_eq(c->out.endpoint_key, "scim_users");

    c = scim_call("GET", "/scim/v2/Users/20000000-0000-4000-8000-000000000001");
    serve(c);
    ck_assert_int_eq(c->out.status, 503);
    ck_assert_str_eq(c->out.endpoint_key, "scim_user");

    /* an id that is no UUID: 404 without asking the database */
    c = scim_call("GET", "/scim/v2/Users/bob");
    ck_assert_str_eq(scim_detail_status(serve(c)), "404");
    ck_assert_int_eq(acquisitions, 0);

    c = scim_call("PUT", "/scim/v2/Users");
    ck_assert_str_eq(scim_detail_status(serve(c)), "405");
    ck_assert_str_eq(header(c, "Allow"), "GET, POST");
    ck_assert_str_eq(c->out.content_type, "application/scim+json");

    c = scim_call("GET", "/scim/v2/Me");
    ck_assert_str_eq(scim_detail_status(serve(c)), "404");
    c = scim_call("POST", "/scim/v2/Groups/x");
    ck_assert_str_eq(scim_detail_status(serve(c)), "405");
    ck_assert_str_eq(header(c, "Allow"), "GET, PUT, PATCH, DELETE");
    c = scim_call("PATCH", "/scim/v2/Groups");
    ck_assert_str_eq(scim_detail_status(serve(c)), "405");
    ck_assert_str_eq(header(c, "Allow"), "GET, POST");
    c = scim_call("GET", "/scim/v2/ServiceProviderConfig/x");
    ck_assert_str_eq(scim_detail_status(serve(c)), "404");
}
END_TEST

/* POST /Users: the media type, then the body, then the store. */
START_TEST(scim_create_checks_before_the_database)
{
    static const char user[] =
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        "\"userName\":\"new.acme\",\"emails\":[{\"value\":\"new@acme.example\"}]}";
    call *c = scim_call("POST", "/scim/v2/Users");
    json_t *doc;

    c->in.content_type = "application/scim+json; charset=utf-8";
    c->body.body = user;
    serve(c);
    ck_assert_int_eq(c->out.status, 503);
    ck_assert_int_eq(acquisitions, 1);
    ck_assert_str_eq(c->out.endpoint_key, "scim_create_user");

    c = scim_call("POST", "/scim/v2/Users");
    c->in.content_type = "text/plain";
    ck_assert_str_eq(scim_detail_status(serve(c)), "415");
    ck_assert_int_eq(c->body.calls, 0);

    c = scim_call("POST", "/scim/v2/Users");
    c->body.body = "{\"userName\":\"new.acme\"}";
    doc = serve(c);
    ck_assert_str_eq(scim_detail_status(doc), "400");
    ut_assert_json_str(doc, "scimType", "invalidSyntax");
    ck_assert_int_eq(acquisitions, 0);

    c = scim_call("POST", "/scim/v2/Users");
    c->body.body = "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                   "\"userName\":\"x\",\"emails\":[{\"value\":\"a\",\"primary\":false},"
                   "{\"value\":\"not an address\",\"primary\":true}]}";
    doc = serve(c);
    ck_assert_str_eq(scim_detail_status(doc), "400");
    ut_assert_json_str(doc, "scimType", "invalidValue");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(doc, "detail")),
                                 "emails[1].value"));
    ck_assert_int_eq(acquisitions, 0);

    c = scim_call("POST", "/scim/v2/Users");
    c->body.body = "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                   "\"emails\":[{\"value\":\"a@b.example\"}]}";
    doc = serve(c);
    ck_assert_str_eq(scim_detail_status(doc), "400");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(doc, "detail")), "userName"));

    /* emails: an entry that is not an object is named, not "required" */
    c = scim_call("POST", "/scim/v2/Users");
    c->body.body = "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                   "\"userName\":\"x\",\"emails\":[\"a@b.example\"]}";
    doc = serve(c);
    ck_assert_str_eq(scim_detail_status(doc), "400");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "detail")),
                     "emails[0] must be an object. See the attribute mapping in the README's "
                     "SCIM section.");

    c = scim_call("POST", "/scim/v2/Users");
    c->body.body = "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                   "\"userName\":\"x\",\"emails\":[{\"value\":\"a@b.example\"}],"
                   "\"phoneNumbers\":[{\"value\":\"1\"},{\"value\":\"2\"},{\"value\":7}],"
                   "\"externalId\":\"ignored\",\"password\":\"ignored\",\"groups\":[]}";
    serve(c);
    ck_assert_int_eq(c->out.status, 503);   /* valid: a third phone number is not read */
}
END_TEST

START_TEST(scim_filter_refused_before_the_database)
{
    call *c = scim_call("GET", "/scim/v2/Users");
    json_t *doc;

    c->in.args = "filter=userName+eq+bob";
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 400);
    ck_assert_int_eq(acquisitions, 0);
    ck_assert_str_eq(scim_detail_status(doc), "400");
    ut_assert_json_str(doc, "scimType", "invalidFilter");

    c = scim_call("GET", "/scim/v2/Users");
    c->in.args = "count=x";
    doc = serve(c);
    ut_assert_json_str(doc, "scimType", "invalidValue");
}
END_TEST

START_TEST(scim_discovery_without_the_database)
{
    call *c = scim_call("GET", "/scim/v2/ServiceProviderConfig");
    json_t *doc = serve(c);

    ck_assert_int_eq(c->out.status, 200);
    ck_assert_int_eq(acquisitions, 0);
    ck_assert_str_eq(c->out.content_type, "application/scim+json");
    ck_assert(json_is_true(json_object_get(json_object_get(doc, "patch"), "supported")));
    ck_assert(json_is_true(json_object_get(json_object_get(doc, "bulk"), "supported")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "filter"),
                                                        "maxResults")), UB_SCIM_MAX_COUNT);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "bulk"),
                                                        "maxOperations")), 1000);

    /* the limits are the location's directives, as the glue passed them */
    c = scim_call("GET", "/scim/v2/ServiceProviderConfig");
    c->in.max_records = 7;
    c->in.max_body = 4096;
    doc = serve(c);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "bulk"),
                                                        "maxOperations")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "bulk"),
                                                        "maxPayloadSize")), 4096);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "meta"), "location")),
                     "https://h:8443/scim/v2/ServiceProviderConfig");

    c = scim_call("GET", "/scim/v2/ResourceTypes/User");
    doc = serve(c);
    ut_assert_json_str(doc, "endpoint", "/Users");
    c = scim_call("GET", "/scim/v2/ResourceTypes/Group");
    doc = serve(c);
    ut_assert_json_str(doc, "endpoint", "/Groups");
    c = scim_call("GET", "/scim/v2/Schemas");
    doc = serve(c);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "totalResults")), 3);
}
END_TEST

START_TEST(scim_error_documents)
{
    call *c = new_call(UB_HANDLER_ERRORS, "GET");
    json_t *doc;

    c->in.error_status = 401;
    c->in.error_for_scim = 1;
    doc = serve(c);
    ck_assert_int_eq(c->out.status, 401);
    ck_assert_str_eq(scim_detail_status(doc), "401");
    ck_assert_str_eq(c->out.content_type, "application/scim+json");
}
END_TEST

Suite *pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc;

    tc = ut_tcase("not_before");
    tcase_add_test(tc, not_yet_valid_when_nbf_is_past_the_leeway);
    tcase_add_test(tc, valid_when_nbf_is_past_or_within_the_leeway);
    tcase_add_test(tc, not_yet_valid_when_nbf_is_not_a_number);
    suite_add_tcase(s, tc);

    tc = ut_tcase("requests");

    tcase_add_test(tc, put_is_served_by_the_users_handler);
    tcase_add_test(tc, post_is_served_by_the_account_handler_in_its_envelope);
    tcase_add_test(tc, post_answers_text_when_the_client_prefers_it);
    tcase_add_test(tc, a_method_the_handler_does_not_answer_is_405_and_closes);
    tcase_add_test(tc, read_back_opens_get_on_the_users_handler);
    tcase_add_test(tc, a_token_not_valid_yet_is_401_before_anything_else);
    tcase_add_test(tc, no_account_directive_is_the_servers_500);
    tcase_add_test(tc, an_empty_account_is_403_and_closes);
    tcase_add_test(tc, an_empty_actor_is_403_and_closes);
    tcase_add_test(tc, put_options_are_read_before_the_body);
    tcase_add_test(tc, a_wrong_media_type_is_415_and_the_body_is_not_read);
    tcase_add_test(tc, a_body_refused_by_the_reader_is_answered_and_closes);
    tcase_add_test(tc, error_documents_answer_in_the_form_of_the_api);
    tcase_add_test(tc, scim_routes_by_path_and_method);
    tcase_add_test(tc, scim_create_checks_before_the_database);
    tcase_add_test(tc, scim_filter_refused_before_the_database);
    tcase_add_test(tc, scim_discovery_without_the_database);
    tcase_add_test(tc, scim_error_documents);
    suite_add_tcase(s, tc);
    return s;
}
