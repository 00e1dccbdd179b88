#!/usr/bin/env node
// scim-validate.mjs: validates SCIM answers of mod_userbulk against the
// RFC 7643 schemas as a third party implements them: SCIMMY (npm
// "scimmy", pinned in tests/package.json; `make test-node` installs it).
//
//   node tests/tools/scim-validate.mjs [--as KIND] [--partial] < answer.json
//
// The input is one JSON document: a resource (User, Group, ResourceType,
// ServiceProviderConfig, Schema) or a ListResponse of them, told apart by
// its "schemas". --as KIND (User, Group, ...) requires that kind: a
// ListResponse then holds that kind only. Exit 0 when valid; 1 with one
// line per violation on stdout ("PATH: what"); 2 when the input is not a
// JSON document or the usage is wrong. --partial: an answer to
// attributes= or excludedAttributes= (RFC 7644 section 3.4.2.5), which may
// leave out required attributes; everything else is checked.
//
// What decides: SCIMMY's schema definitions and their coerce() in the
// outbound direction (types, required attributes, multi-valued or not,
// canonical values, dateTime and reference forms), and the ListResponse
// message's own checks. SCIMMY stops at a resource's first violation, so
// each top-level attribute is coerced again on its own to name all of
// them. What SCIMMY lets through and RFC 7643 forbids in an answer is
// checked here too: attributes the schema does not define (they would be
// dropped silently), attributes returned "never" (password), an extension
// not listed in schemas, and more than one primary value (section 2.4).
// A Schema resource (/Schemas) has no definition in SCIMMY: each attribute
// it declares is compared with SCIMMY's definition of that schema (name,
// type, multiValued, caseExact, sub-attributes).
import SCIMMY from "scimmy";
import {readFileSync} from "node:fs";

const URN = "urn:ietf:params:scim:";
const LIST = URN + "api:messages:2.0:ListResponse";
const SCHEMA = URN + "schemas:core:2.0:Schema";

const {User, Group, EnterpriseUser, ResourceType, ServiceProviderConfig} = SCIMMY.Schemas;
// Users may carry the enterprise extension (RFC 7643 section 4.3).
User.definition.extend(EnterpriseUser.definition, false);

const KINDS = {
    User: User.definition,
    Group: Group.definition,
    ResourceType: ResourceType.definition,
    ServiceProviderConfig: ServiceProviderConfig.definition,
};
const byUrn = new Map(Object.entries(KINDS).map(([k, d]) => [d.id, k]));
byUrn.set(SCHEMA, "Schema");
// The definitions a Schema resource may describe, by their URN.
const described = new Map([User, Group, EnterpriseUser].map(s => [s.definition.id, s.definition]));

const problems = [];
const report = (path, what) => problems.push(`${path}: ${what}`);

function usage(msg) {
    process.stderr.write(`scim-validate: ${msg}\nusage: scim-validate.mjs [--as ${[...Object.keys(KINDS), "Schema"].join("|")}] [--partial] < answer.json\n`);
    process.exit(2);
}

const isObject = v => v !== null && typeof v === "object" && !Array.isArray(v);
const attrsOf = def => def.attributes.filter(a => a instanceof SCIMMY.Types.Attribute);
const extensionsOf = def => def.attributes.filter(a => a instanceof SCIMMY.Types.SchemaDefinition);
const find = (list, name) => list.find(a => a.name.toLowerCase() === name.toLowerCase());

// Attributes SCIMMY would drop without a word, and values an answer must
// not hold, below one attribute (recursively into complex values).
function strict(path, attr, value) {
    if (attr.config.returned === false || attr.config.returned === "never") {
        report(path, `'${attr.name}' is never returned (RFC 7643 returned "never")`);
    }
    if (attr.type !== "complex" || value === null || value === undefined) return;
    const items = attr.config.multiValued && Array.isArray(value) ? value : [value];
    if (attr.config.multiValued && Array.isArray(value)
        && value.filter(v => isObject(v) && v.primary === true).length > 1) {
        report(path, "more than one value has primary true (RFC 7643 section 2.4)");
    }
    items.forEach((item, i) => {
        if (!isObject(item)) return;    // coerce() names it
        const at = attr.config.multiValued ? `${path}[${i}]` : path;
        for (const [k, v] of Object.entries(item)) {
            const sub = find(attr.subAttributes, k);
            if (sub) strict(`${at}.${k}`, sub, v);
            // RFC 7643 section 2.4: the sub-attributes every multi-valued
            // attribute may have (RFC 7643's own example of
            // authenticationSchemes, section 8.5, has "primary").
            else if (attr.config.multiValued && k === "primary") {
                if (typeof v !== "boolean") report(`${at}.${k}`, "primary is a boolean");
            } else if (!(attr.config.multiValued && ["type", "display", "value", "$ref"].includes(k))) {
                report(`${at}.${k}`, `no sub-attribute '${k}' in '${attr.name}'`);
            } else if (typeof v !== "string") {
                report(`${at}.${k}`, `'${k}' is a string`);
            }
        }
    });
}

// One resource of the kind (a key of KINDS).
function resource(path, kind, r) {
    const def = KINDS[kind];
    if (!isObject(r)) return report(path, `a ${kind} must be a JSON object`);
    if (!Array.isArray(r.schemas) || !r.schemas.includes(def.id)) {
        report(`${path}.schemas`, `must list ${def.id}`);
    }
    const seen = new Set();
    const note = (at, ex) => {
        if (partial && /^Required attribute /.test(ex.message)) return;
        const line = `${at}: ${ex.message}`;
        if (!seen.has(ex.message)) { seen.add(ex.message); problems.push(line); }
    };
    try {
        def.coerce(r, "out");
    } catch (ex) {
        note(path, ex);
    }
    // coerce() stops at the first violation: the required ones again.
    for (const a of attrsOf(def)) {
        const has = Object.keys(r).some(k => k.toLowerCase() === a.name.toLowerCase() && r[k] !== null);
        // meta: coerce() writes it itself; SCIMMY marks it required.
        if (a.config.required && a.config.direction !== "in" && a.name !== "meta" && !has) {
            note(path, new TypeError(`Required attribute '${a.name}' is missing`));
        }
    }
    for (const [k, v] of Object.entries(r)) {
        const attr = find(attrsOf(def), k);
        const ext = extensionsOf(def).find(e => e.id.toLowerCase() === k.toLowerCase());
        if (attr) {
            try { attr.coerce(v, "out"); } catch (ex) { note(`${path}.${k}`, ex); }
            strict(`${path}.${k}`, attr, v);
        } else if (ext) {
            if (!Array.isArray(r.schemas) || !r.schemas.includes(ext.id)) {
                report(`${path}.schemas`, `must list the extension ${ext.id} it carries`);
            }
            if (!isObject(v)) { report(`${path}.${k}`, "an extension is a JSON object"); continue; }
            for (const [ek, ev] of Object.entries(v)) {
                const ea = find(attrsOf(ext), ek);
                if (!ea) report(`${path}.${k}.${ek}`, `no attribute '${ek}' in ${ext.id}`);
                else strict(`${path}.${k}.${ek}`, ea, ev);
            }
        } else {
            report(`${path}.${k}`, `no attribute '${k}' in ${def.id}`);
        }
    }
    if (Array.isArray(r.schemas)) {
        for (const s of r.schemas) {
            if (s !== def.id && !extensionsOf(def).some(e => e.id === s)) {
                report(`${path}.schemas`, `names a schema this resource type has not: ${s}`);
            }
        }
    }
}

// A Schema resource (RFC 7643 section 7) against SCIMMY's definition of
// the schema it describes.
function schemaResource(path, s) {
    if (!isObject(s)) return report(path, "a Schema must be a JSON object");
    if (!Array.isArray(s.schemas) || !s.schemas.includes(SCHEMA)) report(`${path}.schemas`, `must list ${SCHEMA}`);
    const def = described.get(s.id);
    if (!def) return report(`${path}.id`, `not a schema RFC 7643 defines: ${s.id}`);
    if (!Array.isArray(s.attributes)) return report(`${path}.attributes`, "must be an array");
    const compare = (at, decl, theirs) => {
        if (!isObject(decl) || typeof decl.name !== "string") return report(at, "an attribute needs a name");
        const ref = find(theirs, decl.name);
        if (!ref) return report(at, `'${decl.name}' is not an attribute of ${s.id}`);
        const want = ref.toJSON();
        for (const k of ["type", "multiValued"]) {
            if (decl[k] !== want[k]) report(`${at}.${k}`, `'${decl.name}': ${JSON.stringify(decl[k])}, RFC 7643 says ${JSON.stringify(want[k])}`);
        }
        if (want.type === "string" && decl.caseExact !== want.caseExact) {
            report(`${at}.caseExact`, `'${decl.name}': ${JSON.stringify(decl.caseExact)}, RFC 7643 says ${want.caseExact}`);
        }
        for (const [k, allowed] of [["mutability", ["readOnly", "readWrite", "immutable", "writeOnly"]],
                                    ["returned", ["always", "never", "default", "request"]],
                                    ["uniqueness", ["none", "server", "global"]]]) {
            if (decl[k] !== undefined && !allowed.includes(decl[k])) report(`${at}.${k}`, `not one of ${allowed.join(" ")}`);
        }
        if (typeof decl.required !== "boolean") report(`${at}.required`, "must be a boolean");
        if (decl.subAttributes !== undefined) {
            if (want.type !== "complex" || !Array.isArray(decl.subAttributes)) {
                report(`${at}.subAttributes`, "only a complex attribute has sub-attributes");
            } else {
                decl.subAttributes.forEach((d, i) => compare(`${at}.subAttributes[${i}]`, d, ref.subAttributes));
            }
        }
    };
    s.attributes.forEach((a, i) => compare(`${path}.attributes[${i}]`, a, attrsOf(def)));
}

function kindOf(doc) {
    const urns = Array.isArray(doc?.schemas) ? doc.schemas : [];
    for (const u of urns) if (byUrn.has(u)) return byUrn.get(u);
    return undefined;
}

function one(path, doc, want) {
    const kind = kindOf(doc);
    if (kind === undefined) return report(path, `no schema this validator knows in ${JSON.stringify(doc?.schemas)}`);
    if (want && kind !== want) return report(path, `a ${kind}, not a ${want}`);
    if (kind === "Schema") schemaResource(path, doc);
    else resource(path, kind, doc);
}

// main
const args = process.argv.slice(2);
let want, partial = false;
while (args.length) {
    const a = args.shift();
    if (a === "--as") {
        want = args.shift();
        if (!KINDS[want] && want !== "Schema") usage(`unknown kind ${want}`);
    } else if (a === "--partial") {
        partial = true;
    } else usage(`unknown argument ${a}`);
}
let doc;
try {
    doc = JSON.parse(readFileSync(0, "utf8"));
} catch (ex) {
    usage(`the input is not one JSON document: ${ex.message}`);
}
if (isObject(doc) && Array.isArray(doc.schemas) && doc.schemas.includes(LIST)) {
    try {
        new SCIMMY.Messages.ListResponse(doc);
    } catch (ex) {
        report("$", ex.message);
    }
    for (const k of ["totalResults", "startIndex", "itemsPerPage"]) {
        if (!Number.isInteger(doc[k]) || doc[k] < 0) report(`$.${k}`, "must be a non-negative integer");
    }
    if (!Array.isArray(doc.Resources)) {
        if (doc.totalResults !== 0) report("$.Resources", "must be an array when there are results");
    } else {
        if (Number.isInteger(doc.itemsPerPage) && doc.itemsPerPage !== doc.Resources.length) {
            report("$.itemsPerPage", `${doc.itemsPerPage}, but Resources holds ${doc.Resources.length}`);
        }
        doc.Resources.forEach((r, i) => one(`$.Resources[${i}]`, r, want));
    }
} else {
    one("$", doc, want);
}
for (const p of problems) process.stdout.write(p + "\n");
process.exit(problems.length ? 1 : 0);
