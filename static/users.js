// users.js: adds, renames and deletes users on the home page through the
// seed's REST routes (POST /user, PUT /user/:id, DELETE /user/:id) and
// updates the list without a reload. Every visible string comes from the
// page's data-msg-* attributes, i.e. from the server's translation table.
// Loaded as a file: the Content-Security-Policy forbids inline script.
(function () {
  'use strict';

  const table = document.getElementById('users');
  if (!table) return;
  const tbody = table.tBodies[0];
  const status = document.getElementById('status');
  const empty = document.getElementById('empty');
  const addForm = document.getElementById('add-user');
  const lang = table.dataset.lang || 'en';

  // msg('added', 'kim') reads data-msg-added and fills in %s.
  function msg(key, arg) {
    const name = 'msg-' + key;
    const text = table.dataset[name.replace(/-([a-z])/g, (_, c) => c.toUpperCase())];
    if (text === undefined) return '';
    return arg === undefined ? text : text.replace('%s', arg);
  }

  function say(text, kind) {
    status.textContent = text;
    status.className = 'status ' + (kind || '');
  }

  // describe turns a problem+json body into a sentence in the page's language.
  function describe(problem, httpStatus) {
    if (problem && Array.isArray(problem.errors) && problem.errors.length) {
      return problem.errors.map((e) => msg('err-' + e.code) || e.message).join(' ');
    }
    if (problem && problem.code && msg('err-' + problem.code)) return msg('err-' + problem.code);
    return msg('err-failed', (problem && problem.detail) || String(httpStatus));
  }

  async function send(method, url, body) {
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
    if (res.status === 204) return null;
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error(describe(data, res.status));
    return data;
  }

  const dateFormat = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
  function localTime(el) {
    const d = new Date(el.getAttribute('datetime'));
    if (!isNaN(d)) el.textContent = dateFormat.format(d);
  }
  table.querySelectorAll('time').forEach(localTime);

  function button(action, label, cls) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.action = action;
    b.textContent = label;
    if (cls) b.className = cls;
    return b;
  }

  // rowFor builds a table row for a user returned by the API. Text only:
  // names are never parsed as HTML.
  function rowFor(user) {
    const tr = document.createElement('tr');
    tr.dataset.id = user.id;
    tr.dataset.name = user.name;
    const name = document.createElement('td');
    name.className = 'name';
    name.textContent = user.name;
    const role = document.createElement('td');
    role.className = 'role';
    role.textContent = msg('role-' + user.role) || user.role;
    const created = document.createElement('td');
    const time = document.createElement('time');
    time.setAttribute('datetime', user.created_at);
    localTime(time);
    created.appendChild(time);
    const actions = document.createElement('td');
    actions.className = 'actions';
    actions.append(button('rename', msg('rename')), button('delete', msg('delete'), 'danger'));
    tr.append(name, role, created, actions);
    labelActions(tr);
    return tr;
  }

  // labelActions names the row's buttons for screen readers ("Rename kim").
  function labelActions(tr) {
    tr.querySelectorAll('button[data-action]').forEach((b) => {
      b.setAttribute('aria-label', msg(b.dataset.action + '-named', tr.dataset.name));
    });
  }

  function updateEmpty() {
    empty.hidden = tbody.rows.length > 0;
  }

  addForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = addForm.elements.name;
    const submit = addForm.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const user = await send('POST', '/user', { name: input.value });
      tbody.prepend(rowFor(user));
      updateEmpty();
      input.value = '';
      say(msg('added', user.name), 'ok');
    } catch (err) {
      say(err.message, 'error');
    } finally {
      submit.disabled = false;
      input.focus();
    }
  });

  function startRename(tr) {
    const cell = tr.querySelector('.name');
    if (cell.querySelector('form')) return;
    const form = document.createElement('form');
    form.className = 'inline-form';
    const label = document.createElement('label');
    label.className = 'visually-hidden';
    label.htmlFor = 'rename-' + tr.dataset.id;
    label.textContent = msg('new-name');
    const input = document.createElement('input');
    input.type = 'text';
    input.id = label.htmlFor;
    input.name = 'name';
    input.maxLength = 64;
    input.required = true;
    input.value = tr.dataset.name;
    const save = button('save', msg('save'));
    save.type = 'submit';
    const cancel = button('cancel', msg('cancel'), 'secondary');
    form.append(label, input, save, cancel);
    cell.textContent = '';
    cell.appendChild(form);
    input.focus();
    input.select();

    const finish = (name) => {
      cell.textContent = name;
      tr.querySelector('button[data-action="rename"]').focus();
    };
    cancel.addEventListener('click', () => finish(tr.dataset.name));
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') finish(tr.dataset.name);
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      save.disabled = true;
      try {
        const user = await send('PUT', '/user/' + tr.dataset.id, { name: input.value });
        tr.dataset.name = user.name;
        labelActions(tr);
        finish(user.name);
        say(msg('renamed', user.name), 'ok');
      } catch (err) {
        save.disabled = false;
        say(err.message, 'error');
        input.focus();
      }
    });
  }

  async function remove(tr) {
    const name = tr.dataset.name;
    if (!window.confirm(msg('confirm-delete', name))) return;
    try {
      await send('DELETE', '/user/' + tr.dataset.id);
      const next = tr.nextElementSibling || tr.previousElementSibling;
      tr.remove();
      updateEmpty();
      say(msg('deleted', name), 'ok');
      const focusTarget = next ? next.querySelector('button[data-action="delete"]') : addForm.elements.name;
      focusTarget.focus();
    } catch (err) {
      say(err.message, 'error');
    }
  }

  tbody.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    const tr = b.closest('tr');
    if (b.dataset.action === 'rename') startRename(tr);
    if (b.dataset.action === 'delete') remove(tr);
  });
})();
