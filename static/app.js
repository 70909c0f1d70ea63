// app.js: the interactive parts of userhub's pages, without reloads.
//   - the user list (home page): a search as you type, and the filters,
//     which fetch the list page itself and put its list in place (the
//     server writes every row); administrators add users, rename them,
//     change their role, set their password, suspend, restore and delete
//     them, one at a time or several selected at once;
//   - the account page: users change their own name and password;
//   - passkeys: "Sign in with a passkey" on the login page, and adding one
//     on the security page, with navigator.credentials and the server's
//     JSON options.
// It talks to the seed's REST routes (PUT, PATCH, DELETE /user/:id) and to
// the JSON API (/api/v1) with fetch(). Every visible string comes from the
// page's data-msg-* attributes, i.e. from the server's translation table.
// What an action on a row did is told in that row, under its buttons.
// Loaded as a file: the Content-Security-Policy forbids inline script.
(function () {
  'use strict';

  const status = document.getElementById('status');

  // messages reads data-msg-<key> from el: messages(el)('added', 'kim').
  function messages(el) {
    return function (key, arg) {
      const name = ('msg-' + key).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
      const text = el.dataset[name];
      if (text === undefined) return '';
      return arg === undefined ? text : text.replace('%s', () => arg); // a function: no $-patterns in names
    };
  }

  // say shows text in a status line: the page's, or el.
  function say(text, kind, el) {
    const line = el || status;
    line.textContent = text;
    line.className = 'status ' + (kind || '');
  }

  // loginAgain leaves for the login page, which says the session ended.
  function loginAgain() {
    window.location.assign('/login?ended=1&next=' + encodeURIComponent(window.location.pathname + window.location.search));
  }

  // describe turns a problem+json body into a sentence in the page's language.
  function describe(msg, problem, httpStatus) {
    if (problem && Array.isArray(problem.errors) && problem.errors.length) {
      return problem.errors.map((e) => msg('err-' + e.code) || e.message).join(' ');
    }
    if (problem && problem.code && msg('err-' + problem.code)) return msg('err-' + problem.code);
    return msg('err-failed', (problem && problem.detail) || String(httpStatus));
  }

  // send calls the server and returns the decoded JSON answer (null for 204);
  // a failure throws an Error whose message is ready to show.
  async function send(msg, method, url, body) {
    const init = { method: method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (err) {
      throw new Error(msg('err-network'));
    }
    if (res.status === 401) {
      // The session ended (logged out elsewhere, password set by an
      // administrator, suspended): log in again, told why.
      loginAgain();
      throw new Error(msg('err-not_authenticated'));
    }
    if (res.status === 204) return null;
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error(describe(msg, data, res.status));
    return data;
  }

  function button(action, label, cls) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.action = action;
    b.textContent = label;
    if (cls) b.className = cls;
    return b;
  }

  function element(tag, props) {
    return Object.assign(document.createElement(tag), props);
  }

  // inlineForm replaces cell's content with a small form of opts.fields
  // ({id, type, label}; the first may have a value). On submit it awaits
  // opts.save(values); when that succeeds it puts the cell back and then
  // calls opts.saved(result), so that what saved writes into the page is
  // not undone by the restored cell. opts.check(values) may refuse first,
  // returning a message and the index of the field at fault. On failure
  // opts.failed(message) shows the message and returns its element's id,
  // which then describes the field, left open for another try. Escape or
  // Cancel put the cell back and call opts.cancelled(). opts.hint is shown
  // under the fields (the password rules).
  function inlineForm(msg, cell, opts) {
    const saved = Array.from(cell.childNodes);
    const form = element('form', { className: 'inline-form' + (opts.fields.length > 1 ? ' several' : '') });
    let hint = null;
    if (opts.hint) hint = element('p', { className: 'hint', id: opts.fields[0].id + '-hint', textContent: opts.hint });
    const inputs = opts.fields.map((f, i) => {
      const label = element('label', { htmlFor: f.id, textContent: f.label });
      if (opts.fields.length === 1) label.className = 'visually-hidden';
      const input = element('input', { type: f.type, id: f.id, required: true, value: f.value || '' });
      if (f.type === 'text') input.maxLength = 64;
      if (f.type === 'password') input.autocomplete = 'new-password';
      if (hint && i === 0) input.setAttribute('aria-describedby', hint.id);
      form.append(label, input);
      return input;
    });
    if (hint) form.append(hint);
    const save = button('save', msg('save'));
    save.type = 'submit';
    const cancel = button('cancel', msg('cancel'), 'secondary');
    const buttons = element('div', { className: 'inline-buttons' });
    buttons.append(save, cancel);
    form.append(buttons);
    cell.replaceChildren(form);
    inputs[0].focus();
    if (opts.fields[0].type === 'text') inputs[0].select();

    const close = () => {
      cell.replaceChildren(...saved);
      if (opts.returnFocus) opts.returnFocus.focus();
    };
    const giveUp = () => {
      close();
      opts.cancelled();
    };
    const fail = (text, input) => {
      save.disabled = false;
      inputs.forEach((el) => el.removeAttribute('aria-invalid'));
      input.setAttribute('aria-invalid', 'true');
      const described = [opts.failed(text)];
      if (hint && input === inputs[0]) described.push(hint.id);
      input.setAttribute('aria-describedby', described.join(' '));
      input.focus();
    };
    cancel.addEventListener('click', giveUp);
    form.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') giveUp();
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const values = inputs.map((el) => el.value);
      const refused = opts.check && opts.check(values);
      if (refused) {
        fail(refused.message, inputs[refused.field]);
        return;
      }
      save.disabled = true;
      let result;
      try {
        result = await opts.save(values);
      } catch (err) {
        fail(err.message, inputs[0]);
        return;
      }
      close();
      opts.saved(result);
    });
  }

  // ---- The user list ----
  const table = document.getElementById('users');
  if (table) {
    const msg = messages(table);
    const me = table.dataset.me;
    const addForm = document.getElementById('add-user');
    const addStatus = document.getElementById('add-status');
    const controls = document.getElementById('list-controls');
    const bulk = document.getElementById('bulk');
    const bulkCount = document.getElementById('bulk-count');
    const selectAll = document.getElementById('select-all');
    const tbody = () => table.tBodies[0];
    const dateFormat = new Intl.DateTimeFormat(table.dataset.lang || 'en', { dateStyle: 'medium', timeStyle: 'short' });

    // Times come in UTC; they are shown in the reader's zone and language.
    const localTimes = (root) => {
      root.querySelectorAll('time').forEach((el) => {
        const d = new Date(el.getAttribute('datetime'));
        if (!isNaN(d)) el.textContent = dateFormat.format(d);
      });
    };
    localTimes(table);

    // label names a row's buttons and box for screen readers ("Rename
    // kim"); each name holds the button's visible words (WCAG 2.5.3, label
    // in name).
    const label = (tr) => {
      const name = tr.dataset.name;
      tr.querySelectorAll('button[data-action]').forEach((b) => {
        let action = b.dataset.action;
        if (action === 'suspend' && tr.dataset.suspended === 'true') action = 'restore';
        if (action === 'role') action = tr.dataset.role === 'admin' ? 'make-member' : 'make-admin';
        b.setAttribute('aria-label', msg(action + '-named', name));
      });
      const box = tr.querySelector('.select-row');
      if (box) box.setAttribute('aria-label', msg('select-named', name));
    };

    // show puts a user's current data into its row.
    const show = (tr, user) => {
      tr.dataset.name = user.name;
      tr.dataset.role = user.role;
      tr.dataset.suspended = String(user.suspended);
      tr.querySelector('.name-text').textContent = user.name;
      tr.querySelector('.role').textContent = msg('role-' + user.role) || user.role;
      tr.querySelector('[data-badge="no-password"]').hidden = user.has_password;
      tr.querySelector('[data-badge="suspended"]').hidden = !user.suspended;
      const roleButton = tr.querySelector('button[data-action="role"]');
      if (roleButton) roleButton.textContent = user.role === 'admin' ? msg('make-member') : msg('make-admin');
      const suspendButton = tr.querySelector('button[data-action="suspend"]');
      if (suspendButton) suspendButton.textContent = user.suspended ? msg('restore') : msg('suspend');
      label(tr);
    };

    // tell shows what became of an action under the row's buttons, where
    // the person who clicked is looking: a success in the row's status
    // region, a failure in its alert region (tell(tr) clears both). Screen
    // readers announce changes only to live regions already on the page, so
    // every row carries both from the start. It returns the alert's id.
    const tell = (tr, text, kind) => {
      const ok = tr.querySelector('.row-note.ok');
      const error = tr.querySelector('.row-note.error');
      ok.textContent = kind === 'ok' ? text : '';
      error.textContent = kind === 'error' ? text : '';
      return error.id;
    };

    // ---- Selection, for the bulk actions ----
    const boxes = () => Array.from(tbody().querySelectorAll('.select-row'));
    const selected = () => boxes().filter((box) => box.checked).map((box) => box.closest('tr'));
    const selectionChanged = () => {
      if (!bulk) return;
      const n = selected().length;
      bulkCount.textContent = msg('bulk-selected', String(n));
      selectAll.checked = n > 0 && n === boxes().length;
      selectAll.indeterminate = n > 0 && n < boxes().length;
    };

    // load fetches the list page at url and puts its list in place of
    // this one's: the count, the empty-list note, the pager and (unless
    // rows is false) the rows. The server writes the rows, for a search as
    // for the first page. A newer load replaces an older one still under
    // way, and takes on its rows; reload asks again for the list last
    // asked for (a search not yet answered included), after a change.
    let wanted = window.location.pathname + window.location.search;
    let loading = null;
    let loadingRows = false;
    const load = async (url, rows) => {
      const withRows = rows !== false || (loading !== null && loadingRows);
      if (loading) loading.abort();
      const mine = new AbortController();
      loading = mine;
      loadingRows = withRows;
      wanted = url;
      let res;
      let text;
      try {
        res = await fetch(url, { headers: { Accept: 'text/html' }, credentials: 'same-origin', signal: mine.signal });
        text = await res.text();
      } catch (err) {
        if (err.name !== 'AbortError') say(msg('err-network'), 'error');
        return;
      }
      if (loading !== mine) return;
      loading = null;
      const landed = new URL(res.url);
      if (landed.pathname === '/login') {
        loginAgain();
        return;
      }
      if (!res.ok) {
        say(msg('err-failed', String(res.status)), 'error');
        return;
      }
      const doc = new DOMParser().parseFromString(text, 'text/html');
      // The live regions keep their elements, so that the change is read out.
      document.getElementById('count').textContent = doc.getElementById('count').textContent;
      const empty = document.getElementById('empty');
      const newEmpty = doc.getElementById('empty');
      empty.textContent = newEmpty.textContent;
      empty.hidden = newEmpty.hidden;
      document.getElementById('pager').replaceWith(doc.getElementById('pager'));
      if (withRows) {
        tbody().replaceWith(doc.getElementById('users').tBodies[0]);
        localTimes(table);
        selectionChanged();
      }
      wanted = landed.pathname + landed.search;
      window.history.replaceState(null, '', wanted);
    };
    const reload = (rows) => load(wanted, rows);

    // ---- Search and filters ----
    if (controls) {
      const search = controls.elements.q;
      const sortHint = document.getElementById('sort-hint');
      const apply = () => {
        const params = new URLSearchParams(new FormData(controls));
        for (const [key, value] of Array.from(params)) {
          if (value === '') params.delete(key);
        }
        sortHint.hidden = search.value === '';
        const query = params.toString();
        load('/' + (query ? '?' + query : ''));
      };
      let typing;
      search.addEventListener('input', () => {
        clearTimeout(typing);
        typing = setTimeout(apply, 250);
      });
      controls.addEventListener('change', (ev) => {
        if (ev.target !== search) apply();
      });
      controls.addEventListener('submit', (ev) => {
        ev.preventDefault();
        clearTimeout(typing);
        apply();
      });
    }

    if (addForm) {
      addForm.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const f = addForm.elements;
        const submit = addForm.querySelector('button[type="submit"]');
        const body = { name: f.name.value, role: f.role.value };
        if (f.password.value !== '') body.password = f.password.value;
        submit.disabled = true;
        try {
          const user = await send(msg, 'POST', '/api/v1/users', body);
          addForm.reset();
          say(msg('added', user.name), 'ok', addStatus);
          await reload();
        } catch (err) {
          say(err.message, 'error', addStatus);
        } finally {
          submit.disabled = false;
          f.name.focus();
        }
      });
    }

    // removeRow takes a deleted user's row off the page and moves focus to
    // the row that takes its place.
    const removeRow = (tr) => {
      const next = tr.nextElementSibling || tr.previousElementSibling;
      tr.remove();
      const target = next ? next.querySelector('button[data-action="delete"]') : document.getElementById('search');
      if (target) target.focus();
    };

    const actions = {
      rename(tr, b) {
        inlineForm(msg, tr.querySelector('.name-text'), {
          fields: [{ id: 'rename-' + tr.dataset.id, type: 'text', label: msg('new-name'), value: tr.dataset.name }],
          returnFocus: b,
          save: (values) => send(msg, 'PUT', '/user/' + tr.dataset.id, { name: values[0] }),
          saved: (user) => {
            show(tr, user);
            tell(tr, msg('renamed', user.name), 'ok');
          },
          failed: (text) => tell(tr, text, 'error'),
          cancelled: () => tell(tr),
        });
      },
      async role(tr, b) {
        const role = tr.dataset.role === 'admin' ? 'member' : 'admin';
        if (!window.confirm(msg('confirm-make-' + role, tr.dataset.name))) return;
        try {
          const user = await send(msg, 'PATCH', '/user/' + tr.dataset.id, { role: role });
          show(tr, user);
          tell(tr, msg('role-now-' + user.role, user.name), 'ok');
          if (String(user.id) === me && user.role !== 'admin') window.location.reload();
          b.focus();
        } catch (err) {
          tell(tr, err.message, 'error');
        }
      },
      password(tr, b) {
        inlineForm(msg, tr.querySelector('.row-actions'), {
          fields: [
            { id: 'password-' + tr.dataset.id, type: 'password', label: msg('new-password') },
            { id: 'password-confirm-' + tr.dataset.id, type: 'password', label: msg('password-confirm') },
          ],
          hint: table.dataset.passwordHint,
          returnFocus: b,
          check: (values) => (values[0] === values[1] ? null : { message: msg('mismatch'), field: 1 }),
          save: (values) => send(msg, 'PATCH', '/api/v1/users/' + tr.dataset.id, { password: values[0] }),
          saved: (user) => {
            show(tr, user);
            tell(tr, msg('password-set', user.name), 'ok');
          },
          failed: (text) => tell(tr, text, 'error'),
          cancelled: () => tell(tr),
        });
      },
      async suspend(tr, b) {
        const suspending = tr.dataset.suspended !== 'true';
        if (suspending && !window.confirm(msg('confirm-suspend', tr.dataset.name))) return;
        try {
          const user = await send(msg, 'PATCH', '/api/v1/users/' + tr.dataset.id, { suspended: suspending });
          show(tr, user);
          tell(tr, msg(user.suspended ? 'suspended' : 'restored', user.name), 'ok');
          b.focus();
        } catch (err) {
          tell(tr, err.message, 'error');
        }
      },
      async delete(tr) {
        const name = tr.dataset.name;
        const self = tr.dataset.id === me;
        if (!window.confirm(msg(self ? 'confirm-delete-self' : 'confirm-delete', name))) return;
        try {
          await send(msg, 'DELETE', '/user/' + tr.dataset.id);
        } catch (err) {
          tell(tr, err.message, 'error');
          return;
        }
        if (self) {
          loginAgain(); // the account, and so the session, is gone
          return;
        }
        removeRow(tr);
        // The row is gone, and its notes with it: the page's status says it.
        say(msg('deleted', name), 'ok');
        selectionChanged();
        reload(false);
      },
    };

    table.addEventListener('click', (ev) => {
      const b = ev.target.closest('tbody button[data-action]');
      if (!b || !actions[b.dataset.action] || b.closest('form')) return;
      const tr = b.closest('tr');
      tell(tr);
      actions[b.dataset.action](tr, b);
    });

    if (bulk) {
      table.addEventListener('change', (ev) => {
        if (ev.target === selectAll) boxes().forEach((box) => (box.checked = selectAll.checked));
        if (ev.target.type === 'checkbox') selectionChanged();
      });
      // One confirmation for all; then one request per user, in turn, each
      // row telling its own failure (the last admin, a user gone meanwhile).
      const done = { delete: 'bulk-deleted', suspend: 'bulk-suspended', restore: 'bulk-restored' };
      bulk.addEventListener('click', async (ev) => {
        const b = ev.target.closest('button[data-bulk]');
        if (!b) return;
        const kind = b.dataset.bulk;
        const rows = selected();
        if (rows.length === 0) {
          say(msg('bulk-none'), 'error');
          return;
        }
        if (kind !== 'restore' && !window.confirm(msg('confirm-bulk-' + kind, String(rows.length)))) return;
        let succeeded = 0;
        let failed = 0;
        for (const tr of rows) {
          tell(tr);
          try {
            if (kind === 'delete') {
              await send(msg, 'DELETE', '/user/' + tr.dataset.id);
              tr.remove();
            } else {
              show(tr, await send(msg, 'PATCH', '/api/v1/users/' + tr.dataset.id, { suspended: kind === 'suspend' }));
              tr.querySelector('.select-row').checked = false;
            }
            succeeded++;
          } catch (err) {
            tell(tr, err.message, 'error');
            failed++;
          }
        }
        let text = msg(done[kind], String(succeeded));
        if (failed > 0) text += ' ' + msg('bulk-failed', String(failed));
        say(text, failed > 0 ? 'error' : 'ok');
        selectionChanged();
        if (kind === 'delete') reload(false);
      });
    }
  }

  // ---- The account page ----
  const account = document.getElementById('account');
  if (account) {
    const msg = messages(account);
    const nameForm = document.getElementById('account-name');
    const passwordForm = document.getElementById('account-password');

    nameForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const user = await send(msg, 'PATCH', '/api/v1/users/' + account.dataset.id, { name: nameForm.elements.name.value });
        nameForm.elements.name.value = user.name;
        document.querySelectorAll('.who').forEach((el) => {
          el.textContent = user.name;
        });
        say(msg('renamed', user.name), 'ok');
      } catch (err) {
        say(err.message, 'error');
      }
    });

    passwordForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = passwordForm.elements;
      if (f.new_password.value !== f.new_password_confirm.value) {
        say(msg('mismatch'), 'error');
        f.new_password_confirm.focus();
        return;
      }
      try {
        await send(msg, 'PUT', '/api/v1/me/password', { current_password: f.current_password.value, new_password: f.new_password.value });
        passwordForm.reset();
        say(msg('password-changed'), 'ok');
      } catch (err) {
        say(err.message, 'error');
      }
    });
  }
  // ---- Passkeys: sign in on the login page, add one on the security page ----
  // The server's options ({"publicKey": ...}) carry bytes as base64url;
  // navigator.credentials wants ArrayBuffers, and the answer goes back as
  // JSON with base64url again.
  const fromB64url = (s) => {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  };
  const toB64url = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const credentialJSON = (cred) => {
    const r = cred.response;
    const response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    }
    if (r.authenticatorData) {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type, response: response,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
    };
  };
  // postJSON sends body and returns the JSON answer; a failure throws an
  // Error whose message is ready to show (a 401 here is a passkey refused,
  // not a session ended).
  const postJSON = async (msg, url, body) => {
    let res;
    try {
      res = await fetch(url, {
        method: 'POST', credentials: 'same-origin',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify(body || {}),
      });
    } catch (err) {
      throw new Error(msg('err-network'));
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error(describe(msg, data, res.status));
    return data;
  };
  // ceremony runs the browser's part; a person who cancels is told so.
  const ceremony = async (msg, run) => {
    try {
      return await run();
    } catch (err) {
      throw new Error(err && err.name === 'NotAllowedError' ? msg('passkey-cancelled') : msg('passkey-failed'));
    }
  };
  const passkeysWork = !!(window.PublicKeyCredential && navigator.credentials);

  const passkeyLogin = document.getElementById('passkey-login-box');
  if (passkeyLogin && passkeysWork) {
    const msg = messages(passkeyLogin);
    const line = document.getElementById('passkey-status');
    const button = document.getElementById('passkey-login');
    passkeyLogin.hidden = false;
    button.addEventListener('click', async () => {
      button.disabled = true;
      say(msg('passkey-working'), '', line);
      try {
        const options = (await postJSON(msg, '/api/v1/login/passkey/options')).publicKey;
        options.challenge = fromB64url(options.challenge);
        (options.allowCredentials || []).forEach((c) => { c.id = fromB64url(c.id); });
        const cred = await ceremony(msg, () => navigator.credentials.get({ publicKey: options }));
        await postJSON(msg, '/api/v1/login/passkey', { credential: credentialJSON(cred) });
        window.location.assign(passkeyLogin.dataset.next || '/');
      } catch (err) {
        say(err.message, 'error', line);
        button.disabled = false;
      }
    });
  }

  const passkeyForm = document.getElementById('passkey-register');
  if (passkeyForm && passkeysWork) {
    const msg = messages(document.getElementById('passkeys'));
    const line = document.getElementById('passkey-status');
    const submit = document.getElementById('passkey-register-submit');
    passkeyForm.hidden = false;
    passkeyForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      say(msg('passkey-working'), '', line);
      try {
        const options = (await postJSON(msg, '/api/v1/me/passkeys/options')).publicKey;
        options.challenge = fromB64url(options.challenge);
        options.user.id = fromB64url(options.user.id);
        (options.excludeCredentials || []).forEach((c) => { c.id = fromB64url(c.id); });
        const cred = await ceremony(msg, () => navigator.credentials.create({ publicKey: options }));
        await postJSON(msg, '/api/v1/me/passkeys', { name: passkeyForm.elements.name.value, credential: credentialJSON(cred) });
        window.location.assign('/account/security?passkey_added=1');
      } catch (err) {
        say(err.message, 'error', line);
        submit.disabled = false;
      }
    });
  }
})();
