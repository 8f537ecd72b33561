// Sharing. Admins: partners, shares, keys and the audit log. Partners: only their own shares
// and the (anonymised) drives in them.

import { ApiError, del, get, post } from "./api.js";
import { clock, el, km, replace, short, state, table, when } from "./ui.js";

function section(title, ...children) {
  return el("section.panel", {}, el("h2", {}, title), ...children);
}

/** A form whose submit posts `body(data)` to `path`, then calls `done`; errors shown inline. */
function postForm(path, fields, body, done, submitText) {
  const status = el("p.form-status", { role: "status" });
  const form = el(
    "form.inline-form",
    {
      on: {
        submit: async (e) => {
          e.preventDefault();
          try {
            await post(path, body(new FormData(form)));
            status.textContent = "Saved.";
            form.reset();
            await done();
          } catch (err) {
            status.textContent = err instanceof ApiError ? err.message : String(err);
          }
        },
      },
    },
    ...fields,
    el("button", { type: "submit" }, submitText),
    status,
  );
  return form;
}

async function partnerView(view, session) {
  view.append(el("h1", {}, `Shares for ${session.partner}`));
  const shares = await get("/api/shares");
  if (!shares.length) {
    view.append(state("empty", "No data has been shared with you yet."));
    return;
  }
  for (const s of shares) {
    const drives = el("div.share-drives", {}, state("loading", "Loading drives…"));
    view.append(
      section(
        `${s.target} (${s.share_id})`,
        el("p.meta", {}, `uses: ${s.uses.join(", ")} · expires ${s.expires} · anonymised: ${s.anonymise.join(", ") || "none"} · ${s.drives} drives`),
        drives,
      ),
    );
    get(`/api/shares/${s.share_id}/drives`)
      .then((rows) =>
        replace(
          drives,
          rows.length
            ? table(rows, [
                ["Drive", (r) => el("a", { href: `#/drive/${r.drive_id}?share=${s.share_id}` }, short(r.drive_id))],
                ["Vehicle", (r) => r.vehicle || "–"],
                ["Duration", (r) => (r.duration_s != null ? clock(r.duration_s) : "–")],
                ["Distance", (r) => km(r.distance_m)],
              ])
            : state("empty", "No drives in this share."),
        ),
      )
      .catch((err) => replace(drives, state("error", err.message)));
  }
}

async function adminView(view) {
  view.append(el("h1", {}, "Sharing"));
  const partners = el("div");
  const shares = el("div");
  const keys = el("div");
  const audit = el("div");
  const verify = el("p.form-status", { role: "status" });

  async function load() {
    const [p, s, k, a] = await Promise.all([get("/api/partners"), get("/api/shares"), get("/api/keys"), get("/api/audit", { limit: 30 })]);
    replace(
      partners,
      p.length ? table(p, [["Name", (r) => r.name], ["Contact", (r) => r.contact || "–"], ["Added", (r) => when(r.created_at)]]) : state("empty", "No partners yet."),
    );
    replace(
      shares,
      s.length
        ? table(s, [
            ["Share", (r) => el("code", {}, r.share_id)],
            ["Partner", (r) => r.partner],
            ["Target", (r) => r.target],
            ["Drives", (r) => r.drives],
            ["Uses", (r) => r.uses.join(", ")],
            ["Expires", (r) => r.expires],
            ["Anonymised", (r) => r.anonymise.join(", ") || "none"],
            ["State", (r) => (r.revoked ? "revoked" : "live")],
          ])
        : state("empty", "Nothing shared yet."),
    );
    replace(
      keys,
      k.length
        ? table(k, [
            ["Key id", (r) => el("code", {}, r.key_id)],
            ["Role", (r) => r.role],
            ["Partner", (r) => r.partner || "–"],
            ["State", (r) => (r.revoked_at ? `revoked ${when(r.revoked_at)}` : "active")],
            ["", (r) => (r.revoked_at ? "" : revokeButton(r))],
          ])
        : state("empty", "No keys."),
    );
    replace(
      keyPartner,
      p.length ? p.map((r) => el("option", { value: r.name }, r.name)) : el("option", { value: "", disabled: true }, "add a partner first"),
    );
    replace(
      audit,
      a.length
        ? table(a, [
            ["When", (r) => when(r.ts)],
            ["Who", (r) => (r.partner ? `${r.partner} (${r.actor})` : r.actor || "–")],
            ["Request", (r) => `${r.method || r.action} ${r.path || ""}`],
            ["Status", (r) => r.status ?? "–"],
          ])
        : state("empty", "The audit log is empty."),
    );
  }

  const partnerForm = postForm(
    "/api/partners",
    [el("input", { name: "name", required: true, pattern: "[a-z0-9][a-z0-9._-]{0,63}", placeholder: "name (acme)", "aria-label": "Partner name" }), el("input", { name: "contact", placeholder: "contact", "aria-label": "Contact" })],
    (d) => ({ name: d.get("name"), contact: d.get("contact") || null }),
    load,
    "Add partner",
  );
  const shareForm = postForm(
    "/api/shares",
    [
      el("input", { name: "target", required: true, placeholder: "dataset@snapshot", "aria-label": "Target" }),
      el("input", { name: "partner", required: true, placeholder: "partner", "aria-label": "Partner" }),
      el("input", { name: "uses", required: true, placeholder: "uses (research,training)", "aria-label": "Uses" }),
      el("input", { name: "expires", type: "date", required: true, "aria-label": "Expires" }),
      ...["faces", "plates", "zones"].map((a) => el("label", {}, el("input", { type: "checkbox", name: "anonymise", value: a, checked: true }), ` ${a}`)),
    ],
    (d) => ({ target: d.get("target"), partner: d.get("partner"), uses: d.get("uses").split(",").map((u) => u.trim()).filter(Boolean), expires: d.get("expires"), anonymise: d.getAll("anonymise") }),
    load,
    "Share",
  );
  // ---------------------------------------------------------------- keys: create (shown once), revoke
  const keyStatus = el("p.form-status", { role: "status" });
  const newKey = el("div.new-key");
  const keyPartner = el("select", { name: "partner", "aria-label": "Partner of the key" });
  const keyRole = el(
    "select",
    { name: "role", "aria-label": "Role of the key", on: { change: () => (keyPartner.disabled = keyRole.value === "admin") } },
    el("option", { value: "partner" }, "partner key"),
    el("option", { value: "admin" }, "admin key"),
  );
  const keyForm = el(
    "form.inline-form",
    {
      on: {
        submit: async (e) => {
          e.preventDefault();
          const admin = keyRole.value === "admin";
          try {
            showNewKey(await post("/api/keys", { role: keyRole.value, partner: admin ? null : keyPartner.value }));
            keyStatus.textContent = "";
            await load();
          } catch (err) {
            keyStatus.textContent = `Not created: ${err.message}`;
          }
        },
      },
    },
    keyRole,
    keyPartner,
    el("button", { type: "submit" }, "Create key"),
    keyStatus,
  );

  /** The new key, once: selected, with a copy button and a plain warning that it will not return. */
  function showNewKey(made) {
    const field = el("input.key-value", { type: "text", readonly: true, value: made.key, size: made.key.length, "aria-label": `New key ${made.key_id}` });
    const copied = el("span.form-status", { role: "status" });
    const copy = async () => {
      field.select();
      try {
        await navigator.clipboard.writeText(made.key); // needs https or localhost
        copied.textContent = "Copied.";
      } catch {
        copied.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
      }
    };
    replace(
      newKey,
      el(
        "div.shown-once",
        { role: "alert" },
        el("p", {}, el("strong", {}, `New ${made.role} key ${made.key_id}${made.partner ? ` for ${made.partner}` : ""}.`), " Copy it now: you won't see this key again (only its hash is kept)."),
        el("div.row", {}, field, el("button.copy", { type: "button", on: { click: copy } }, "Copy"), copied),
        el("button.link", { type: "button", on: { click: () => replace(newKey) } }, "I have copied it: hide the key"),
      ),
    );
    field.focus();
    field.select();
  }

  function revokeButton(key) {
    const who = key.partner ? `${key.partner}'s` : "the admin";
    const revoke = async () => {
      if (!confirm(`Revoke ${who} key ${key.key_id}? Whoever holds it loses access at once.`)) return;
      try {
        await del(`/api/keys/${key.key_id}`);
        keyStatus.textContent = `Key ${key.key_id} revoked.`;
        await load();
      } catch (err) {
        keyStatus.textContent = `Not revoked: ${err.message}`;
      }
    };
    return el("button.link.danger", { type: "button", "aria-label": `Revoke key ${key.key_id}`, on: { click: revoke } }, "Revoke");
  }

  const verifyButton = el(
    "button",
    {
      type: "button",
      on: {
        click: async () => {
          const r = await get("/api/audit/verify");
          verify.textContent = r.ok ? `Chain intact (${r.entries} entries).` : `Chain BROKEN at line ${r.line}: ${r.problem}`;
        },
      },
    },
    "Verify the hash chain",
  );
  view.append(
    section("Partners", partners, partnerForm),
    section("Shares", shares, shareForm),
    section("Keys", newKey, keys, keyForm, el("p.hint", {}, "A partner key reads only that partner's shares, anonymised. Also: ", el("code", {}, "drivelake key create --partner NAME"), ".")),
    section("Audit log (latest)", el("div.row", {}, verifyButton, verify), audit),
  );
  await load();
}

export async function render(view, { session }) {
  if (session.role === "admin") await adminView(view);
  else await partnerView(view, session);
}
