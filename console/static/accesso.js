document.getElementById('accesso').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const token = document.getElementById('token').value.trim();
  const res = await fetch('/api/session', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({token})});
  if (res.ok) { location.href = '/'; return; }
  const body = await res.json().catch(() => ({}));
  document.getElementById('errore').textContent = 'Accesso negato: ' + (body.error || res.status);
});
