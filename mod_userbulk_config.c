/*
 * mod_userbulk_config.c: the directives. "Unset" in create, "the child's
 * value if it set one" in merge, defaults in the getters, so that a level
 * can set a value back to its default.
 */
#include <apr_strings.h>
#include <apr_optional.h>
#include <httpd.h>
#include <http_config.h>

#include "mod_userbulk.h"
#include "store.h"

#define SET_ACCOUNT      (1u << 0)
#define SET_ACTOR        (1u << 1)
#define SET_MAX_RECORDS  (1u << 2)
#define SET_MAX_BODY     (1u << 3)
#define SET_RETRY_AFTER  (1u << 4)
#define SET_NOT_BEFORE   (1u << 5)
#define SET_READ_BACK    (1u << 6)
#define SET_CHANGE_FEED  (1u << 7)
#define SET_REVERT       (1u << 8)
#define SET_DIFF         (1u << 9)

/* The largest UserBulkMaxBodySize, 1 GiB: the body is held in memory whole
 * (and parsed into several times its size), its columns reach PostgreSQL
 * as single text-array values, which PostgreSQL caps at 1 GB, and the JSON
 * parser counts lines in an int. */
#define MAX_BODY_CAP (APR_INT64_C(1) << 30)


void *ub_create_dir_conf(apr_pool_t *p, char *dir)
{
    return apr_pcalloc(p, sizeof(ub_dir_conf));
}

void *ub_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    ub_dir_conf *base = basev, *add = addv;
    ub_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->account = (add->set & SET_ACCOUNT) ? add->account : base->account;
    conf->actor = (add->set & SET_ACTOR) ? add->actor : base->actor;
    conf->not_before = (add->set & SET_NOT_BEFORE) ? add->not_before : base->not_before;
    conf->max_records = (add->set & SET_MAX_RECORDS) ? add->max_records : base->max_records;
    conf->max_body = (add->set & SET_MAX_BODY) ? add->max_body : base->max_body;
    conf->retry_after = (add->set & SET_RETRY_AFTER) ? add->retry_after : base->retry_after;
    conf->read_back = (add->set & SET_READ_BACK) ? add->read_back : base->read_back;
    conf->change_feed = (add->set & SET_CHANGE_FEED) ? add->change_feed : base->change_feed;
    conf->revert = (add->set & SET_REVERT) ? add->revert : base->revert;
    conf->diff = (add->set & SET_DIFF) ? add->diff : base->diff;
    conf->set = base->set | add->set;
    return conf;
}

void *ub_create_server_conf(apr_pool_t *p, server_rec *s)
{
    return apr_pcalloc(p, sizeof(ub_server_conf));
}

/* Defaults live in the getters, so a level can set a value back to the
 * default explicitly. */
int ub_conf_max_records(const ub_dir_conf *c)
{
    return (c->set & SET_MAX_RECORDS) ? c->max_records : UB_DEFAULT_MAX_RECORDS;
}

apr_off_t ub_conf_max_body(const ub_dir_conf *c)
{
    return (c->set & SET_MAX_BODY) ? c->max_body : UB_DEFAULT_MAX_BODY;
}

int ub_conf_retry_after(const ub_dir_conf *c)
{
    return (c->set & SET_RETRY_AFTER) ? c->retry_after : UB_DEFAULT_RETRY_AFTER;
}

/* The statements go to mod_dbd once per server that uses the module;
 * mod_dbd prepares them on every connection it opens. */
static const char *prepare_statements(cmd_parms *cmd)
{
    ub_server_conf *sc = ap_get_module_config(cmd->server->module_config,
                                              &userbulk_module);
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare;
    const ub_statement *st;

    if (sc->statements_prepared) {
        return NULL;
    }
    prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    if (prepare == NULL) {
        return "mod_userbulk needs mod_dbd: load it before mod_userbulk";
    }
    for (st = ub_statements; st->label != NULL; st++) {
        prepare(cmd->server, st->sql, st->label);
    }
    sc->statements_prepared = 1;
    return NULL;
}

static const char *set_expr(cmd_parms *cmd, ap_expr_info_t **slot,
                            const char *arg)
{
    const char *err = NULL;

    *slot = ap_expr_parse_cmd(cmd, arg, AP_EXPR_FLAG_STRING_RESULT, &err, NULL);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "%s: cannot parse expression '%s': %s",
                            cmd->cmd->name, arg, err);
    }
    return NULL;
}

static const char *set_account(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    const char *err = set_expr(cmd, &c->account, arg);

    if (err == NULL) {
        c->set |= SET_ACCOUNT;
        err = prepare_statements(cmd);
    }
    return err;
}

static const char *set_actor(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    const char *err = set_expr(cmd, &c->actor, arg);

    if (err == NULL) {
        c->set |= SET_ACTOR;
    }
    return err;
}

/* The On|Off directives: the field each one sets. */
static int *switch_of(ub_dir_conf *c, unsigned bit)
{
    switch (bit) {
    case SET_READ_BACK:   return &c->read_back;
    case SET_CHANGE_FEED: return &c->change_feed;
    case SET_REVERT:      return &c->revert;
    case SET_DIFF:        return &c->diff;
    }
    return NULL;
}

/* UserBulkReadBack, UserBulkChangeFeed, UserBulkRevert, UserBulkDiff:
 * cmd->info is the directive's SET_ bit. */
static const char *set_switch(cmd_parms *cmd, void *dconf, int flag)
{
    ub_dir_conf *c = dconf;
    unsigned bit = (unsigned)(apr_uintptr_t)cmd->info;
    int *field = switch_of(c, bit);

    if (field == NULL) {
        return apr_psprintf(cmd->pool, "%s: no such switch", cmd->cmd->name);
    }
    *field = flag;
    c->set |= bit;
    return NULL;
}

static const char *set_not_before(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    const char *err = set_expr(cmd, &c->not_before, arg);

    if (err == NULL) {
        c->set |= SET_NOT_BEFORE;
    }
    return err;
}

/* A whole number in [lo, hi], or the directive's error line. */
static const char *parse_count(cmd_parms *cmd, const char *arg,
                               apr_int64_t lo, apr_int64_t hi, apr_int64_t *out)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < lo || v > hi) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from %"
                            APR_INT64_T_FMT " to %" APR_INT64_T_FMT,
                            cmd->cmd->name, arg, lo, hi);
    }
    *out = v;
    return NULL;
}

static const char *set_max_records(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    apr_int64_t v = 0;
    const char *err = parse_count(cmd, arg, 1, 100000, &v);

    if (err == NULL) {
        c->max_records = (int)v;
        c->set |= SET_MAX_RECORDS;
    }
    return err;
}

static const char *set_max_body(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    apr_int64_t v = 0;
    const char *err = parse_count(cmd, arg, 1024, MAX_BODY_CAP, &v);

    if (err != NULL) {
        return apr_pstrcat(cmd->pool, err, " (at most 1 GiB: the body is held in "
                           "memory whole and reaches PostgreSQL as values it "
                           "caps at 1 GB)", NULL);
    }
    c->max_body = (apr_off_t)v;
    c->set |= SET_MAX_BODY;
    return NULL;
}

static const char *set_retry_after(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    apr_int64_t v = 0;
    const char *err = parse_count(cmd, arg, 0, 86400, &v);

    if (err == NULL) {
        c->retry_after = (int)v;
        c->set |= SET_RETRY_AFTER;
    }
    return err;
}

/* Server config, <VirtualHost>, <Location>, <Directory>, never .htaccess:
 * whoever may write one there must not name the audit trail's actor, the
 * account, or bend the limits. */
#define DIR_CONTEXT (RSRC_CONF | ACCESS_CONF)

const command_rec ub_cmds[] = {
    AP_INIT_TAKE1("UserBulkAccount", set_account, NULL, DIR_CONTEXT,
                  "Expression giving the caller's account code, e.g. "
                  "%{reqenv:OAUTH2_CLAIM_account}"),
    AP_INIT_TAKE1("UserBulkActor", set_actor, NULL, DIR_CONTEXT,
                  "Expression naming the caller for the audit trail "
                  "(default %{REMOTE_USER})"),
    AP_INIT_TAKE1("UserBulkNotBefore", set_not_before, NULL, DIR_CONTEXT,
                  "Expression giving the token's nbf claim, refused while in "
                  "the future, for auth modules that do not check it"),
    AP_INIT_FLAG("UserBulkReadBack", set_switch, (void *)(apr_uintptr_t)SET_READ_BACK, DIR_CONTEXT,
                  "On: GET on the PUT /users location answers the users named "
                  "by ?userName= as PUT takes them (default Off)"),
    AP_INIT_FLAG("UserBulkChangeFeed", set_switch, (void *)(apr_uintptr_t)SET_CHANGE_FEED, DIR_CONTEXT,
                  "On: GET .../changes under the PUT /users location answers the "
                  "account's changes from the audit trail (default Off)"),
    AP_INIT_FLAG("UserBulkRevert", set_switch, (void *)(apr_uintptr_t)SET_REVERT, DIR_CONTEXT,
                  "On: POST .../requests/{requestId}/revert below the PUT /users "
                  "location undoes a request of the audit trail (default Off)"),
    AP_INIT_FLAG("UserBulkDiff", set_switch, (void *)(apr_uintptr_t)SET_DIFF, DIR_CONTEXT,
                  "On: ?diff=true answers the fields each record changes, before "
                  "and after (PUT /users, revert; default Off)"),
    AP_INIT_TAKE1("UserBulkMaxRecords", set_max_records, NULL, DIR_CONTEXT,
                  "Most user records one request may hold (default 1000)"),
    AP_INIT_TAKE1("UserBulkMaxBodySize", set_max_body, NULL, DIR_CONTEXT,
                  "Largest request body in bytes (default 8388608)"),
    AP_INIT_TAKE1("UserBulkRetryAfter", set_retry_after, NULL, DIR_CONTEXT,
                  "Seconds sent in Retry-After when the database is away "
                  "(default 5)"),
    { NULL }
};

