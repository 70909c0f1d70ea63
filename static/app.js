// app.js: the interactive parts of userhub's pages, without reloads.
//   - the user list (home page): administrators add users, rename them,
//     change their role, set their password and delete them;
//   - the account page: users change their own name and password.
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

  function say(text, kind) {
    status.textContent = text;
    status.className = 'status ' + (kind || '');
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
      // The session ended (logged out elsewhere, password changed): log in again.
      window.location.assign('/login?next=' + encodeURIComponent(window.location.pathname + window.location.search));
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

  // inlineForm replaces cell's content with a one-field form. On submit it
  // awaits opts.save(value); when that succeeds it puts the cell back and
  // then calls opts.saved(result), so that what saved writes into the page
  // is not undone by the restored cell. On failure opts.failed(message)
  // shows the message and returns its element's id, which then describes the
  // field, left open for another try. Escape or Cancel put the cell back and
  // call opts.cancelled().
  function inlineForm(msg, cell, opts) {
    const saved = Array.from(cell.childNodes);
    const form = document.createElement('form');
    form.className = 'inline-form';
    const label = document.createElement('label');
    label.className = 'visually-hidden';
    label.htmlFor = opts.id;
    label.textContent = opts.label;
    const input = document.createElement('input');
    input.type = opts.type;
    input.id = opts.id;
    input.required = true;
    input.value = opts.value || '';
    if (opts.type === 'text') input.maxLength = 64;
    if (opts.type === 'password') input.autocomplete = 'new-password';
    const save = button('save', msg('save'));
    save.type = 'submit';
    const cancel = button('cancel', msg('cancel'), 'secondary');
    form.append(label, input, save, cancel);
    cell.replaceChildren(form);
    input.focus();
    if (opts.type === 'text') input.select();

    const close = () => {
      cell.replaceChildren(...saved);
      if (opts.returnFocus) opts.returnFocus.focus();
    };
    const giveUp = () => {
      close();
      opts.cancelled();
    };
    cancel.addEventListener('click', giveUp);
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') giveUp();
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      save.disabled = true;
      let result;
      try {
        result = await opts.save(input.value);
      } catch (err) {
        save.disabled = false;
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', opts.failed(err.message));
        input.focus();
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
    const tbody = table.tBodies[0];
    const empty = document.getElementById('empty');
    const addForm = document.getElementById('add-user');
    const me = table.dataset.me;
    const admin = table.dataset.admin === 'true';
    const dateFormat = new Intl.DateTimeFormat(table.dataset.lang || 'en', { dateStyle: 'medium', timeStyle: 'short' });

    const localTime = (el) => {
      const d = new Date(el.getAttribute('datetime'));
      if (!isNaN(d)) el.textContent = dateFormat.format(d);
    };
    table.querySelectorAll('time').forEach(localTime);

    // label names a row's buttons for screen readers ("Rename kim"); each
    // name holds the button's visible words (WCAG 2.5.3, label in name).
    const label = (tr) => {
      tr.querySelectorAll('button[data-action]').forEach((b) => {
        let key = b.dataset.action;
        if (key === 'role') key = tr.dataset.role === 'admin' ? 'make-member' : 'make-admin';
        b.setAttribute('aria-label', msg(key + '-named', tr.dataset.name));
      });
    };

    // show puts a user's current data into its row.
    const show = (tr, user) => {
      tr.dataset.name = user.name;
      tr.dataset.role = user.role;
      tr.querySelector('.name-text').textContent = user.name;
      tr.querySelector('.role').textContent = msg('role-' + user.role) || user.role;
      const roleButton = tr.querySelector('button[data-action="role"]');
      if (roleButton) roleButton.textContent = user.role === 'admin' ? msg('make-member') : msg('make-admin');
      label(tr);
    };

    const rowFor = (user) => {
      const tr = document.createElement('tr');
      tr.dataset.id = user.id;
      const name = document.createElement('td');
      name.className = 'name';
      const text = document.createElement('span');
      text.className = 'name-text';
      name.appendChild(text);
      const role = document.createElement('td');
      role.className = 'role';
      const created = document.createElement('td');
      const time = document.createElement('time');
      time.setAttribute('datetime', user.created_at);
      localTime(time);
      created.appendChild(time);
      tr.append(name, role, created);
      if (admin) {
        const actions = document.createElement('td');
        actions.className = 'actions';
        const buttons = document.createElement('div');
        buttons.className = 'row-actions';
        buttons.append(button('rename', msg('rename')), button('role', ''), button('password', msg('set-password')),
          button('delete', msg('delete'), 'danger'));
        const ok = document.createElement('p');
        ok.className = 'row-note ok';
        ok.setAttribute('role', 'status');
        const error = document.createElement('p');
        error.className = 'row-note error';
        error.id = 'row-error-' + user.id;
        error.setAttribute('role', 'alert');
        actions.append(buttons, ok, error);
        tr.appendChild(actions);
      }
      show(tr, user);
      return tr;
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

    const updateEmpty = () => {
      empty.hidden = tbody.rows.length > 0;
    };

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
          tbody.prepend(rowFor(user));
          updateEmpty();
          addForm.reset();
          say(msg('added', user.name), 'ok');
        } catch (err) {
          say(err.message, 'error');
        } finally {
          submit.disabled = false;
          f.name.focus();
        }
      });
    }

    const actions = {
      rename(tr, b) {
        inlineForm(msg, tr.querySelector('.name-text'), {
          id: 'rename-' + tr.dataset.id, type: 'text', label: msg('new-name'), value: tr.dataset.name, returnFocus: b,
          save: (value) => send(msg, 'PUT', '/user/' + tr.dataset.id, { name: value }),
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
        try {
          const user = await send(msg, 'PATCH', '/user/' + tr.dataset.id, { role: role });
          show(tr, user);
          tell(tr, msg('role-changed', msg('role-' + user.role)), 'ok');
          if (String(user.id) === me && user.role !== 'admin') window.location.reload();
          b.focus();
        } catch (err) {
          tell(tr, err.message, 'error');
        }
      },
      password(tr, b) {
        inlineForm(msg, tr.querySelector('.row-actions'), {
          id: 'password-' + tr.dataset.id, type: 'password', label: msg('new-password'), returnFocus: b,
          save: (value) => send(msg, 'PATCH', '/api/v1/users/' + tr.dataset.id, { password: value }),
          saved: () => tell(tr, msg('password-set', tr.dataset.name), 'ok'),
          failed: (text) => tell(tr, text, 'error'),
          cancelled: () => tell(tr),
        });
      },
      async delete(tr) {
        const name = tr.dataset.name;
        if (!window.confirm(msg('confirm-delete', name))) return;
        try {
          await send(msg, 'DELETE', '/user/' + tr.dataset.id);
          const next = tr.nextElementSibling || tr.previousElementSibling;
          tr.remove();
          updateEmpty();
          // The row is gone, and its notes with it: the page's status says it.
          say(msg('deleted', name), 'ok');
          const target = next ? next.querySelector('button[data-action="delete"]') : addForm && addForm.elements.name;
          if (target) target.focus();
        } catch (err) {
          tell(tr, err.message, 'error');
        }
      },
    };

    tbody.addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-action]');
      if (!b || !actions[b.dataset.action] || b.closest('form')) return;
      const tr = b.closest('tr');
      tell(tr);
      actions[b.dataset.action](tr, b);
    });
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
})();
