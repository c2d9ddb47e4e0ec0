'use strict';
// The console: hash routes over the API, figures from the published release tables only.
// The interface speaks Italian; English on request (the header's switch, kept in this browser).
const lang = localStorage.getItem('osv-lang') === 'en' ? 'en' : 'it';
const locale = lang === 'en' ? 'en-GB' : 'it-IT';
const langQuery = lang === 'en' ? '&lang=en' : ''; // labels of groups and indicators in English
const num = new Intl.NumberFormat(locale);
const dec = new Intl.NumberFormat(locale, {minimumFractionDigits: 2, maximumFractionDigits: 2});
const when = new Intl.DateTimeFormat(locale, {dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/Rome'});

// t translates an Italian text of the interface ({0}, {1} … are its arguments).
function t(it, ...args) {
  let out = lang === 'en' && EN[it] !== undefined ? EN[it] : it;
  args.forEach((a, i) => { out = out.split('{' + i + '}').join(a); });
  return out;
}

const EN = {
  'Cruscotto': 'Dashboard', 'Mappa': 'Map', 'Fonti': 'Sources', 'Rilasci': 'Releases', 'Esci': 'Sign out', 'English': 'Italiano',
  'non autenticato': 'not signed in', 'Nessun rilascio pubblicato.': 'No release published.',
  'tipo di contratto': 'contract type', 'settore (sezione Ateco)': 'sector (NACE section)', 'sesso': 'sex', 'classe d\'età': 'age class', 'cittadinanza': 'citizenship',
  'Attivazioni': 'Hires', 'Cessazioni': 'Terminations', 'Proroghe': 'Extensions', 'Trasformazioni (in)': 'Transformations (in)',
  'Trasformazioni (out)': 'Transformations (out)', 'Saldo': 'Balance', 'persone': 'persons', 'migliaia di persone': 'thousand persons',
  '15–74 anni': '15–74 years', '15–64 anni': '15–64 years', '20–64 anni': '20–64 years',
  'Nessun indicatore ufficiale pubblicato in questo rilascio per questo territorio.': 'No official indicator published in this release for this territory.',
  'Indicatori ufficiali di {0}': 'Official indicators of {0}', 'Indicatore': 'Indicator', 'Età': 'Age', 'Anno': 'Year', 'Valore': 'Value', 'Unità': 'Unit',
  'Fonte': 'Source', 'Origine': 'Origin', 'Da dove viene?': 'Where does it come from?', 'Rilascio {0}. Fonti: {1}. ': 'Release {0}. Sources: {1}. ',
  'Scarica i dati (CSV)': 'Download the data (CSV)', 'Nessun rapporto territoriale in questo rilascio.': 'No territorial report in this release.',
  'Le dinamiche degli eventi lavorativi: {0} (rilascio {1})': 'Labour events in {0} (release {1}, in Italian)',
  'Territorio': 'Territory', 'Periodicità': 'Frequency', 'mensile': 'monthly', 'trimestrale': 'quarterly', 'annuale': 'yearly',
  'Confronta con': 'Compare with', 'nessuno': 'none', 'Scala': 'Scale', 'valori assoluti': 'counts', 'per 1.000 residenti': 'per 1,000 residents',
  'indice (primo periodo = 100)': 'index (first period = 100)', 'Rilascio': 'Release', 'Attivazioni per {0}': 'Hires by {0}',
  'Fonte: Regione Lombardia, comunicazioni obbligatorie': 'Source: Regione Lombardia, comunicazioni obbligatorie',
  'Rilascio {0}. {1}': 'Release {0}. {1}', ', scaricato il ': ', fetched on ', 'licenza': 'licence', 'Flussi di {0}': 'Flows of {0}',
  'Saldo cumulato di {0}': 'Cumulative balance of {0}',
  'Popolazione non pubblicata in questo rilascio per il territorio scelto: valori assoluti.': 'Population not published in this release for the chosen territory: counts.',
  'Per 1.000 residenti: popolazione al 1° gennaio ({0}).': 'Per 1,000 residents: population on 1 January ({0}).',
  'Indice: ogni serie vale 100 nel primo periodo.': 'Index: each series is 100 in its first period.',
  '{0}: eventi lavorativi': '{0}: labour events', 'Attivazioni, cessazioni e saldo': 'Hires, terminations and balance',
  'Saldo cumulato dal gennaio 2017': 'Cumulative balance since January 2017', 'Attivazioni per ': 'Hires by ', 'Disaggregazione': 'Breakdown',
  'Indicatori ufficiali': 'Official indicators', 'I valori': 'The figures', 'Periodo': 'Period', 'Saldo {0}': 'Balance {0}', 'Attivazioni {0}': 'Hires {0}',
  'Saldo cumulato': 'Cumulative balance', 'Ricerca dell\'origine…': 'Tracing the origin…', 'Origine non disponibile: ': 'Origin not available: ',
  'Mappa delle province: {0} {1}': 'Map of the provinces: {0} {1}', 'Le province a confronto': 'The provinces compared',
  'Rilascio {0}, comunicazioni obbligatorie di Regione Lombardia. Confini: Istat, elaborazione openpolis (CC BY 4.0).': 'Release {0}, comunicazioni obbligatorie of Regione Lombardia. Boundaries: Istat, processed by openpolis (CC BY 4.0).',
  'Provincia': 'Province', 'Le fonti sono visibili a ingegneri e revisori: ': 'Sources are shown to engineers and auditors: ',
  'Stato': 'State', 'Ultimo controllo': 'Last check', 'Aggiornata alla fonte': 'Updated at the source', 'Ultimo successo': 'Last success',
  'Prossima esecuzione': 'Next run', 'Errori di fila': 'Failures in a row', 'Motivo': 'Reason', 'in pausa': 'paused',
  'Versione': 'Version', 'Creato': 'Created', 'Tipo': 'Bump', 'Precedente': 'Previous', 'Righe': 'Rows', 'Verifica': 'Verify', ' verifica…': ' verifying…',
  ' integro, firma valida': ' intact, signature valid', ' NON integro': ' NOT intact', 'in attesa': 'pending', 'consegnato': 'delivered', 'notificato': 'notified',
  'scaricato': 'pulled', 'confermato': 'acknowledged', 'fallito': 'failed',
  'Rispetto al {0}: {1} file cambiati o nuovi su {2} ({3} byte), {4} invariati, {5} rimossi.': 'Against {0}: {1} files changed or new of {2} ({3} bytes), {4} unchanged, {5} removed.',
  'invariato': 'unchanged', 'cambiato': 'changed', 'nuovo': 'new', 'Rispetto al {0}': 'Against {0}',
  'Dataset aggiunti': 'Datasets added', 'Dataset aggiornati': 'Datasets updated', 'Dataset rimossi': 'Datasets removed',
  'Nuovi periodi in {0}{1}: {2}': 'New periods in {0}{1}: {2}', '{0} valori rivisti in {1}': '{0} values revised in {1}',
  'Rilascio {0}': 'Release {0}', 'Creato il {0}; {1}{2}. ': 'Created on {0}; {1}{2}. ', ', dopo il ': ', after ',
  ' integro, firma valida ({0})': ' intact, signature valid ({0})', ' NON integro: ': ' NOT intact: ', 'Cosa cambia': 'What changes',
  'nessun cambiamento nei dati': 'no change in the data', 'Registro dei cambiamenti non disponibile.': 'Change log not available.',
  'Rapporti territoriali': 'Territorial reports', 'File': 'Files', 'Byte': 'Bytes', 'Consegne agli osservatori': 'Deliveries to observatories',
  'Osservatorio': 'Observatory', 'Modo': 'Mode', 'Quando': 'When', 'Errore': 'Error', 'Errore: ': 'Error: ',
};
const page = document.getElementById('pagina');
const state = {me: null, territories: [], releases: [], charts: [], gen: 0};

// stale says a newer route started while this one awaited: it must not draw over it.
const stale = (gen) => gen !== state.gen;

async function api(path) {
  const res = await fetch(path, {credentials: 'same-origin'});
  if (res.status === 401) { location.href = '/accesso'; throw new Error(t('non autenticato')); }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || ('HTTP ' + res.status));
  return body;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function option(value, label, selected) {
  const o = el('option', {value}, label);
  if (selected) o.selected = true;
  return o;
}

function territoryName(code) {
  const t = state.territories.find((x) => x.istat === code);
  return t ? t.name : code;
}

function periodLabel(p) {
  const m = /^(\d{4})-(\d{2})$/.exec(p);
  if (!m) return p.replace('-Q', lang === 'en' ? ' Q' : ' T');
  return new Intl.DateTimeFormat(locale, {month: 'short', year: 'numeric', timeZone: 'UTC'}).format(new Date(Date.UTC(+m[1], +m[2] - 1, 1)));
}

function chart(container, option) {
  if (!container.isConnected) return null; // the page moved on
  const c = echarts.init(container, null, {renderer: 'svg', locale: 'EN'});
  c.setOption(Object.assign({animation: false, tooltip: {trigger: 'axis', valueFormatter: (v) => num.format(v)},
    legend: {top: 0}, grid: {left: 70, right: 20, top: 40, bottom: 40}}, option));
  state.charts.push(c);
  return c;
}

function clearCharts() { state.charts.forEach((c) => c.dispose()); state.charts = []; }

const breakdowns = [['contract_class', t('tipo di contratto')], ['sector_section', t('settore (sezione Ateco)')], ['sex', t('sesso')],
  ['age_class', t('classe d\'età')], ['citizenship_group', t('cittadinanza')]];

const flowFields = [['attivazioni', t('Attivazioni')], ['cessazioni', t('Cessazioni')], ['proroghe', t('Proroghe')],
  ['trasformazioni_in', t('Trasformazioni (in)')], ['trasformazioni_out', t('Trasformazioni (out)')], ['saldo', t('Saldo')]];

const units = {PC: '%', PERS: t('persone'), THS_PER: t('migliaia di persone')};
const ages = {'Y15-74': t('15–74 anni'), 'Y15-64': t('15–64 anni'), 'Y20-64': t('20–64 anni')};

// officialRates shows a territory's official labour-market rates as the release publishes them: a chart
// by year and, per indicator, its latest year with unit, age class and source.
function officialRates(rates, version, territory) {
  if (!rates.length) return el('p', {class: 'nota'}, t('Nessun indicatore ufficiale pubblicato in questo rilascio per questo territorio.'));
  const latest = Object.values(Object.fromEntries(rates.map((r) => [r.indicator, r]))); // ordered by year: the last wins
  const sources = [...new Set(rates.map((r) => `${r.source} ${r.dataset}`))].join(', ');
  return el('div', {},
    el('div', {class: 'grafico', id: 'indicatori-grafico', role: 'img', 'aria-label': t('Indicatori ufficiali di {0}', territoryName(territory))}),
    el('table', {id: 'indicatori'}, el('thead', {}, el('tr', {}, ['Indicatore', 'Età', 'Anno', 'Valore', 'Unità', 'Fonte', 'Origine'].map((h) => el('th', {scope: 'col'}, t(h))))),
      el('tbody', {}, latest.map((r) => el('tr', {'data-indicator': r.indicator},
        el('th', {scope: 'row'}, r.label), el('td', {}, ages[r.age] || r.age), el('td', {'data-year': r.year}, r.year),
        el('td', {class: 'num', 'data-value': r.value}, dec.format(r.value)), el('td', {}, units[r.unit] || r.unit), el('td', {}, `${r.source} ${r.dataset}`),
        el('td', {}, el('button', {type: 'button', on: {click: () => traceTo(version, 'observations',
          `indicator=${quote(r.indicator)} AND territory=${quote(territory)} AND period=${quote(r.year)} AND source=${quote(r.source)} AND dataset=${quote(r.dataset)} AND sex='T' AND age=${quote(r.age)}`)}}, t('Da dove viene?'))))))),
    el('p', {class: 'nota'}, t('Rilascio {0}. Fonti: {1}. ', version, sources),
      el('a', {href: `/api/releases/${version}/indicators?territory=${territory}&format=csv`, download: ''}, t('Scarica i dati (CSV)'))));
}

// reportLinks lists the territorial reports a release carries (reports/<istat>.html), each opening in a
// new tab; with only, the one of that territory.
function reportLinks(m, version, id, only) {
  const res = (m.resources || []).find((r) => r.name === 'reports');
  const pages = ((res && res.parts) || []).map((p) => [p.path, (/^reports\/(\d+)\.html$/.exec(p.path) || [])[1]]).filter(([, code]) => code && (!only || code === only));
  if (!pages.length) return el('p', {class: 'nota'}, t('Nessun rapporto territoriale in questo rilascio.'));
  return el('ul', {id}, pages.map(([path, code]) => el('li', {}, el('a', {href: `/api/releases/${version}/files/${path}`, target: '_blank', rel: 'noopener'},
    t('Le dinamiche degli eventi lavorativi: {0} (rilascio {1})', territoryName(code), version)))));
}

// residents reads a territory's published population by year: at(period) is the population on 1 January
// of the period's year, or of the latest year published before it (the first published, before that).
function residents(list) {
  const years = list.map((p) => p.year);
  const by = Object.fromEntries(list.map((p) => [p.year, p.value]));
  const last = list[list.length - 1];
  return {
    known: list.length > 0,
    credit: last ? `${last.source} ${last.dataset}, ${years[0]}–${last.year}` : '',
    at: (period) => { const y = period.slice(0, 4); const k = by[y] !== undefined ? y : (years.filter((x) => x <= y).pop() ?? years[0]); return k ? by[k] : null; },
  };
}

async function dashboard(params, gen) {
  const latest = state.releases[0];
  if (!latest) { page.replaceChildren(el('p', {}, t('Nessun rilascio pubblicato.'))); return; }
  const territory = params.get('territorio') || state.me.province || '03';
  const freq = params.get('freq') || 'month';
  const compare = params.get('confronto') || '';
  const scale = params.get('scala') || 'assoluti';
  const version = params.get('rilascio') || latest.version;
  const go = (k, v) => { params.set(k, v); location.hash = '#/?' + params.toString(); };
  const controls = el('div', {class: 'controlli'},
    el('label', {}, t('Territorio'), el('select', {id: 'territorio', on: {change: (e) => go('territorio', e.target.value)}},
      state.territories.map((t) => option(t.istat, t.name, t.istat === territory)))),
    el('label', {}, t('Periodicità'), el('select', {id: 'freq', on: {change: (e) => go('freq', e.target.value)}},
      option('month', t('mensile'), freq === 'month'), option('quarter', t('trimestrale'), freq === 'quarter'), option('year', t('annuale'), freq === 'year'))),
    el('label', {}, t('Confronta con'), el('select', {id: 'confronto', on: {change: (e) => go('confronto', e.target.value)}},
      option('', t('nessuno'), compare === ''), state.territories.filter((t) => t.istat !== territory).map((t) => option(t.istat, t.name, t.istat === compare)))),
    el('label', {}, t('Scala'), el('select', {id: 'scala', on: {change: (e) => go('scala', e.target.value)}},
      option('assoluti', t('valori assoluti'), scale === 'assoluti'), option('per1000', t('per 1.000 residenti'), scale === 'per1000'),
      option('indice', t('indice (primo periodo = 100)'), scale === 'indice'))),
    el('label', {}, t('Rilascio'), el('select', {id: 'rilascio', on: {change: (e) => go('rilascio', e.target.value)}},
      state.releases.map((r) => option(r.version, r.version, r.version === version)))));
  const q = `territory=${territory}&freq=${freq}`;
  const [flows, balances, manifest, rates] = await Promise.all([
    api(`/api/releases/${version}/flows?${q}`), api(`/api/releases/${version}/balances?territory=${territory}`), api(`/api/releases/${version}`),
    api(`/api/releases/${version}/indicators?territory=${territory}${langQuery}`)]);
  const other = compare ? await api(`/api/releases/${version}/flows?territory=${compare}&freq=${freq}`) : [];
  const perThousand = scale === 'per1000' ? await Promise.all([territory, compare].filter(Boolean).map((t) =>
    api(`/api/releases/${version}/population?territory=${t}`).then((p) => residents(p)))) : [];
  const by = params.get('per') || 'contract_class';
  const split = await api(`/api/releases/${version}/flows?${q}&by=${by}${langQuery}`);
  const breakdownChart = el('div', {class: 'grafico', role: 'img', 'aria-label': t('Attivazioni per {0}', by)});
  if (stale(gen)) return;
  const sources = (manifest.sources || []).filter((s) => s.source === 'lombardia');
  const attribution = (sources[0] || {}).attribution || t('Fonte: Regione Lombardia, comunicazioni obbligatorie');
  const credit = t('Rilascio {0}. {1}', version, attribution.replace(/\.$/, '')) +
    (sources.length ? ` (${sources.map((s) => s.dataset + t(', scaricato il ') + when.format(new Date(s.fetchedAt))).join('; ')}; ${t('licenza')} ${((sources[0].licenses || [])[0] || {}).name || 'n.d.'})` : '') + '.';
  const flowsChart = el('div', {class: 'grafico', role: 'img', 'aria-label': t('Flussi di {0}', territoryName(territory))});
  const balanceChart = el('div', {class: 'grafico', role: 'img', 'aria-label': t('Saldo cumulato di {0}', territoryName(territory))});
  // The scale: counts, per 1,000 residents (the population on 1 January of the period's year, or the
  // latest published before it), or an index of each series on its first period.
  const [own, theirs] = perThousand;
  const missing = scale === 'per1000' && (!own.known || (compare && !theirs.known));
  const scaled = scale === 'per1000' && !missing ? (f, k, pop) => { const p = pop.at(f.period); return p ? (f[k] * 1000) / p : null; }
    : (f, k) => f[k];
  const indexed = (values) => { const base = values.find((v) => v); return scale === 'indice' && base ? values.map((v) => (v * 100) / base) : values; };
  const fmt = (v) => (v === null ? '–' : scale === 'assoluti' || missing ? num.format(v) : dec.format(v));
  const fmtCell = (v) => (v === null ? '–' : scale === 'per1000' && !missing ? dec.format(v) : num.format(v));
  const scaleNote = scale === 'per1000' ? (missing ? t('Popolazione non pubblicata in questo rilascio per il territorio scelto: valori assoluti.')
    : t('Per 1.000 residenti: popolazione al 1° gennaio ({0}).', own.credit + (compare ? '; ' + theirs.credit : '')))
    : scale === 'indice' ? t('Indice: ogni serie vale 100 nel primo periodo.') : '';
  const tableValue = (f, k) => (scale === 'indice' ? f[k] : scaled(f, k, own));
  const rows = flows.map((f) => el('tr', {'data-period': f.period},
    el('th', {scope: 'row'}, periodLabel(f.period)),
    flowFields.map(([k]) => { const v = tableValue(f, k); return el('td', {class: 'num', 'data-field': k, 'data-value': v}, fmtCell(v)); }),
    el('td', {}, el('button', {type: 'button', on: {click: () => lineage(version, territory, f.period, freq)}}, t('Da dove viene?')))));
  page.replaceChildren(
    el('h1', {}, t('{0}: eventi lavorativi', territoryName(territory))), controls, reportLinks(manifest, version, 'rapporto', territory),
    el('h2', {}, t('Attivazioni, cessazioni e saldo')), scaleNote ? el('p', {class: 'nota', id: 'scala-nota'}, scaleNote) : '', flowsChart,
    el('p', {class: 'nota'}, credit, ' ', el('a', {href: `/api/releases/${version}/flows?${q}&format=csv`, download: ''}, t('Scarica i dati (CSV)'))),
    el('h2', {}, t('Saldo cumulato dal gennaio 2017')), balanceChart,
    el('p', {class: 'nota'}, credit, ' ', el('a', {href: `/api/releases/${version}/balances?territory=${territory}&format=csv`, download: ''}, t('Scarica i dati (CSV)'))),
    el('h2', {}, t('Attivazioni per '), el('select', {id: 'per', 'aria-label': t('Disaggregazione'), on: {change: (e) => go('per', e.target.value)}},
      breakdowns.map(([k, l]) => option(k, l, k === by)))), breakdownChart,
    el('p', {class: 'nota'}, credit, ' ', el('a', {href: `/api/releases/${version}/flows?${q}&by=${by}&format=csv`, download: ''}, t('Scarica i dati (CSV)'))),
    el('h2', {}, t('Indicatori ufficiali')), officialRates(rates, version, territory),
    el('h2', {}, t('I valori')),
    el('table', {id: 'flussi'}, el('thead', {}, el('tr', {}, el('th', {scope: 'col'}, t('Periodo')), flowFields.map(([, l]) => el('th', {scope: 'col'}, l)), el('th', {scope: 'col'}, t('Origine')))), el('tbody', {}, rows)),
    el('pre', {id: 'origine', 'aria-live': 'polite'}));
  clearCharts();
  const periods = flows.map((f) => periodLabel(f.period));
  const series = [
    {name: t('Attivazioni'), type: 'bar', data: indexed(flows.map((f) => scaled(f, 'attivazioni', own)))},
    {name: t('Cessazioni'), type: 'bar', data: indexed(flows.map((f) => scaled(f, 'cessazioni', own)))}];
  if (scale !== 'indice') series.push({name: t('Saldo'), type: 'line', data: flows.map((f) => scaled(f, 'saldo', own))});
  if (compare) {
    // Compared on the balance, or on activations when indexed (a balance near zero has no index).
    const field = scale === 'indice' ? 'attivazioni' : 'saldo';
    const byPeriod = Object.fromEntries(other.map((f) => [f.period, f]));
    series.push({name: t(scale === 'indice' ? 'Attivazioni {0}' : 'Saldo {0}', territoryName(compare)), type: 'line', lineStyle: {type: 'dashed'},
      data: indexed(flows.map((f) => (byPeriod[f.period] ? scaled(byPeriod[f.period], field, theirs) : null)))});
  }
  const flowsC = chart(flowsChart, {xAxis: {type: 'category', data: periods}, yAxis: {type: 'value', axisLabel: {formatter: fmt}},
    tooltip: {trigger: 'axis', valueFormatter: fmt}, series});
  // A click on a bar or point of this territory traces that period's figures, as the table's buttons do.
  if (flowsC) flowsC.on('click', (p) => { if (p.seriesIndex < (scale === 'indice' ? 2 : 3)) lineage(version, territory, flows[p.dataIndex].period, freq); });
  const groups = [...new Set(split.map((f) => f.group))];
  const labelOf = Object.fromEntries(split.map((f) => [f.group, f.label || f.group || 'n.d.']));
  const splitPeriods = [...new Set(split.map((f) => f.period))];
  const cell = Object.fromEntries(split.map((f) => [f.period + '|' + f.group, f.attivazioni]));
  const splitC = chart(breakdownChart, {xAxis: {type: 'category', data: splitPeriods.map(periodLabel)}, yAxis: {type: 'value', axisLabel: {formatter: (v) => num.format(v)}},
    series: groups.map((g) => ({name: labelOf[g], type: 'bar', stack: 'tot', data: splitPeriods.map((p) => cell[p + '|' + g] ?? 0)}))});
  if (splitC) splitC.on('click', (p) => lineage(version, territory, splitPeriods[p.dataIndex], freq, by, groups[p.seriesIndex]));
  const ratesChart = document.getElementById('indicatori-grafico');
  if (ratesChart) {
    const years = [...new Set(rates.map((r) => r.year))].sort();
    const names = [...new Set(rates.map((r) => r.indicator))];
    const value = Object.fromEntries(rates.map((r) => [r.indicator + '|' + r.year, r.value]));
    chart(ratesChart, {xAxis: {type: 'category', data: years}, yAxis: {type: 'value', axisLabel: {formatter: (v) => dec.format(v)}},
      tooltip: {trigger: 'axis', valueFormatter: (v) => dec.format(v)},
      series: names.map((n) => ({name: (rates.find((r) => r.indicator === n) || {}).label || n, type: 'line', connectNulls: true,
        data: years.map((y) => value[n + '|' + y] ?? null)}))});
  }
  const balanceC = chart(balanceChart, {xAxis: {type: 'category', data: balances.map((b) => periodLabel(b.period))},
    yAxis: {type: 'value', axisLabel: {formatter: (v) => num.format(v)}},
    series: [{name: t('Saldo cumulato'), type: 'line', areaStyle: {}, data: balances.map((b) => b.saldo_cumulato)}]});
  // A month of the cumulative balance moves by that month's flows: a click traces them.
  if (balanceC) balanceC.on('click', (p) => lineage(version, territory, balances[p.dataIndex].period, 'month'));
}

const quote = (v) => `'${String(v).replace(/'/g, "''")}'`;
const flowTableOf = {month: 'labour_flows', quarter: 'labour_flows_quarterly', year: 'labour_flows_yearly'};

// lineage traces a flows cell of a territory and period (with a breakdown's group) to its events and raw
// rows, into the page's #origine.
function lineage(version, territory, period, freq, column, group) {
  const part = column && group !== undefined ? ` AND ${column}=${quote(group)}` : '';
  return traceTo(version, flowTableOf[freq] || 'labour_flows', `territory=${quote(territory)} AND period=${quote(period)} AND sex='T'${part}`);
}

// traceTo asks the lineage of the first row of table matching where (engineers and auditors).
async function traceTo(version, table, where) {
  const out = document.getElementById('origine');
  if (!out) return;
  out.textContent = t('Ricerca dell\'origine…');
  out.scrollIntoView({block: 'nearest'});
  try {
    const a = await api(`/api/releases/${version}/lineage/${table}?where=${encodeURIComponent(where)}&limit=1&sample=3`);
    out.textContent = JSON.stringify(a, null, 2);
  } catch (e) {
    out.textContent = t('Origine non disponibile: ') + e.message;
  }
}

let geo = null;

async function map(params, gen) {
  const latest = state.releases[0];
  if (!latest) { page.replaceChildren(el('p', {}, t('Nessun rilascio pubblicato.'))); return; }
  const version = params.get('rilascio') || latest.version;
  const field = params.get('indicatore') || 'saldo';
  const all = await api(`/api/releases/${version}/flows?freq=year&by=territory`);
  const years = [...new Set(all.map((f) => f.period))].sort();
  const year = params.get('anno') || years[years.length - 1];
  const go = (k, v) => { params.set(k, v); location.hash = '#/mappa?' + params.toString(); };
  if (!geo) {
    geo = await (await fetch('/static/geo/lombardia-province.geojson')).json();
    echarts.registerMap('lombardia', geo);
  }
  const names = Object.fromEntries(geo.features.map((f) => [f.properties.prov_istat_code, f.properties.prov_name]));
  const data = all.filter((f) => f.period === year && names[f.group]).map((f) => ({name: names[f.group], value: f[field], istat: f.group}));
  const box = el('div', {class: 'grafico', id: 'mappa', style: 'height: 560px', role: 'img', 'aria-label': t('Mappa delle province: {0} {1}', field, year)});
  if (stale(gen)) return;
  page.replaceChildren(el('h1', {}, t('Le province a confronto')),
    el('div', {class: 'controlli'},
      el('label', {}, t('Indicatore'), el('select', {id: 'indicatore', on: {change: (e) => go('indicatore', e.target.value)}}, flowFields.map(([k, l]) => option(k, l, k === field)))),
      el('label', {}, t('Anno'), el('select', {id: 'anno', on: {change: (e) => go('anno', e.target.value)}}, years.map((y) => option(y, y, y === year))))),
    box,
    el('p', {class: 'nota'}, t('Rilascio {0}, comunicazioni obbligatorie di Regione Lombardia. Confini: Istat, elaborazione openpolis (CC BY 4.0).', version), ' ',
      el('a', {href: `/api/releases/${version}/flows?freq=year&by=territory&format=csv`, download: ''}, t('Scarica i dati (CSV)'))),
    el('table', {id: 'province'}, el('thead', {}, el('tr', {}, el('th', {scope: 'col'}, t('Provincia')), el('th', {scope: 'col'}, (flowFields.find(([k]) => k === field) || [field, field])[1]))),
      el('tbody', {}, data.sort((a, b) => b.value - a.value).map((d) => el('tr', {'data-istat': d.istat}, el('th', {scope: 'row'}, d.name), el('td', {class: 'num', 'data-value': d.value}, num.format(d.value)))))),
    el('pre', {id: 'origine', 'aria-live': 'polite'}));
  clearCharts();
  const values = data.map((d) => d.value);
  const mapC = chart(box, {tooltip: {trigger: 'item', valueFormatter: (v) => num.format(v)}, legend: {show: false},
    visualMap: {min: Math.min(...values, 0), max: Math.max(...values, 1), calculable: true, left: 10, bottom: 10, formatter: (v) => num.format(Math.round(v)),
      inRange: {color: ['#c6dbef', '#6baed6', '#08519c']}},
    series: [{name: field, type: 'map', map: 'lombardia', nameProperty: 'prov_name', label: {show: true, fontSize: 10}, data}]});
  // A click on a province traces its year's figures.
  if (mapC) mapC.on('click', (p) => { if (p.data && p.data.istat) lineage(version, p.data.istat, year, 'year'); });
}

async function sources(gen) {
  let list;
  try { list = await api('/api/status'); } catch (e) { page.replaceChildren(el('p', {}, t('Le fonti sono visibili a ingegneri e revisori: ') + e.message)); return; }
  if (stale(gen)) return;
  const fmt = (t) => (t ? when.format(new Date(t)) : '–');
  page.replaceChildren(el('h1', {}, t('Fonti')), el('table', {id: 'fonti'},
    el('thead', {}, el('tr', {}, ['Fonte', 'Dataset', 'Stato', 'Ultimo controllo', 'Aggiornata alla fonte', 'Ultimo successo', 'Prossima esecuzione', 'Errori di fila', 'Motivo'].map((h) => el('th', {scope: 'col'}, t(h))))),
    el('tbody', {}, list.map((d) => el('tr', {},
      el('td', {}, d.source), el('td', {}, d.dataset), el('td', {class: 'stato-' + d.state}, d.state),
      el('td', {}, fmt(d.last_check)), el('td', {}, fmt(d.source_updated)), el('td', {}, fmt(d.last_success)),
      el('td', {}, d.paused ? t('in pausa') : fmt(d.next_run)), el('td', {class: 'num'}, num.format(d.failures)), el('td', {}, d.last_error || d.why || ''))))));
}

async function releases() {
  page.replaceChildren(el('h1', {}, t('Rilasci')), el('table', {id: 'rilasci'},
    el('thead', {}, el('tr', {}, ['Versione', 'Creato', 'Tipo', 'Precedente', 'Righe', 'Verifica'].map((h) => el('th', {scope: 'col'}, t(h))))),
    el('tbody', {}, state.releases.map((r) => {
      const out = el('span', {});
      return el('tr', {},
        el('td', {}, el('a', {href: '#/rilasci/' + r.version}, r.version)), el('td', {}, when.format(new Date(r.created))), el('td', {}, r.bump), el('td', {}, r.previous || '–'),
        el('td', {class: 'num'}, num.format(Object.values(r.rows || {}).reduce((a, b) => a + b, 0))),
        el('td', {}, el('button', {type: 'button', on: {click: async () => {
          out.textContent = t(' verifica…');
          try { const v = await api(`/api/releases/${r.version}/verify`); out.textContent = v.ok ? t(' integro, firma valida') : t(' NON integro'); } catch (e) { out.textContent = ' ' + e.message; }
        }}}, t('Verifica')), out));
    }))));
}

const statoConsegna = {pending: t('in attesa'), delivered: t('consegnato'), notified: t('notificato'), pulled: t('scaricato'),
  acknowledged: t('confermato'), failed: t('fallito')};

async function releasePage(version, gen) {
  const [m, deliveries] = await Promise.all([api(`/api/releases/${version}`), api(`/api/releases/${version}/deliveries`)]);
  let log = null;
  try { log = await api(`/api/releases/${version}/files/changes.json`); } catch (e) { log = null; }
  const previous = m.osservatorio.previous;
  const before = previous ? await api(`/api/releases/${previous}`).catch(() => null) : null;
  if (stale(gen)) return;
  const filesOf = (man) => (man.resources || []).flatMap((r) => (r.parts && r.parts.length ? r.parts : [{path: Array.isArray(r.path) ? r.path[0] : r.path, bytes: r.bytes, hash: r.hash, rows: r.rows}]));
  const files = filesOf(m);
  // Against the previous release, file by file: the same bytes (kept, not stored again), changed, new.
  const was = before ? filesOf(before) : [];
  const hashes = new Set(was.map((f) => f.hash));
  const paths = new Set(was.map((f) => f.path));
  const status = (f) => (!before ? '' : hashes.has(f.hash) ? 'invariato' : paths.has(f.path) ? 'cambiato' : 'nuovo');
  const moved = files.filter((f) => before && !hashes.has(f.hash));
  const gone = was.filter((f) => !files.some((g) => g.path === f.path));
  const diff = before ? el('p', {id: 'confronto-file'}, t('Rispetto al {0}: {1} file cambiati o nuovi su {2} ({3} byte), {4} invariati, {5} rimossi.',
    previous, num.format(moved.length), num.format(files.length), num.format(moved.reduce((a, f) => a + f.bytes, 0)),
    num.format(files.length - moved.length), num.format(gone.length))) : '';
  const verified = el('span', {id: 'verifica'}, '');
  const changes = [];
  if (log) {
    const ds = log.datasets || {};
    for (const [k, l] of [['addedDatasets', 'Dataset aggiunti'], ['updatedDatasets', 'Dataset aggiornati'], ['removedDatasets', 'Dataset rimossi']]) {
      if ((ds[k] || []).length) changes.push(el('li', {}, `${t(l)}: ${ds[k].join(', ')}`));
    }
    for (const p of log.newPeriods || []) changes.push(el('li', {}, t('Nuovi periodi in {0}{1}: {2}', p.table, p.series ? ' (' + p.series + ')' : '', p.periods.join(', '))));
    for (const r of log.revised || []) changes.push(el('li', {}, t('{0} valori rivisti in {1}', num.format(r.count), r.table)));
  }
  page.replaceChildren(
    el('h1', {}, t('Rilascio {0}', version)),
    el('p', {}, t('Creato il {0}; {1}{2}. ', when.format(new Date(m.created)), m.osservatorio.bump, m.osservatorio.previous ? t(', dopo il ') + m.osservatorio.previous : ''),
      el('button', {type: 'button', on: {click: async () => {
        verified.textContent = t(' verifica…');
        try { const v = await api(`/api/releases/${version}/verify`); verified.textContent = v.ok ? t(' integro, firma valida ({0})', (v.signature || {}).keyId) : t(' NON integro: ') + (v.files || []).filter((f) => !f.ok).map((f) => f.path).join(', '); } catch (e) { verified.textContent = ' ' + e.message; }
      }}}, t('Verifica')), verified),
    el('h2', {}, t('Cosa cambia')), log ? el('ul', {id: 'cambiamenti'}, changes.length ? changes : [el('li', {}, t('nessun cambiamento nei dati'))]) : el('p', {}, t('Registro dei cambiamenti non disponibile.')),
    log && log.bumpReason ? el('p', {class: 'nota'}, log.bumpReason) : '',
    el('h2', {}, t('Rapporti territoriali')), reportLinks(m, version, 'rapporti'),
    el('h2', {}, t('File')), diff,
    el('table', {id: 'file'}, el('thead', {}, el('tr', {}, [t('File'), t('Byte'), t('Righe'), 'sha256', previous ? t('Rispetto al {0}', previous) : ''].map((h) => el('th', {scope: 'col'}, h)))),
      el('tbody', {}, files.map((f) => el('tr', {},
        el('td', {}, el('a', {href: `/api/releases/${version}/files/${f.path}`, download: ''}, f.path)), el('td', {class: 'num'}, num.format(f.bytes)),
        el('td', {class: 'num'}, f.rows ? num.format(f.rows) : ''), el('td', {}, el('code', {}, (f.hash || '').replace('sha256:', '').slice(0, 16) + '…')),
        el('td', {'data-status': status(f)}, status(f) ? t(status(f)) : ''))))),
    el('h2', {}, t('Consegne agli osservatori')),
    el('table', {id: 'consegne'}, el('thead', {}, el('tr', {}, ['Osservatorio', 'Stato', 'Modo', 'Quando', 'Errore'].map((h) => el('th', {scope: 'col'}, t(h))))),
      el('tbody', {}, deliveries.map((d) => el('tr', {},
        el('td', {}, d.observatory), el('td', {}, statoConsegna[d.status] || d.status), el('td', {}, d.mode || ''),
        el('td', {}, d.time ? when.format(new Date(d.time)) : ''), el('td', {}, d.error || ''))))));
}

async function route() {
  const gen = ++state.gen;
  clearCharts(); // a page without charts must not keep the last page's, detached
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query || '');
  document.querySelectorAll('header nav a').forEach((a) => a.toggleAttribute('aria-current', a.getAttribute('href') === '#' + path.replace(/^\/rilasci\/.*/, '/rilasci')));
  try {
    if (path === '/fonti') await sources(gen);
    else if (path === '/mappa') await map(params, gen);
    else if (path === '/rilasci') await releases();
    else if (path.startsWith('/rilasci/')) await releasePage(path.slice('/rilasci/'.length), gen);
    else await dashboard(params, gen);
  } catch (e) {
    if (!stale(gen)) page.replaceChildren(el('p', {role: 'alert'}, t('Errore: ') + e.message));
  }
  if (!stale(gen)) document.body.dataset.ready = path;
}

async function start() {
  state.me = await api('/api/whoami');
  document.getElementById('utente').textContent = state.me.name ? `${state.me.name} (${state.me.role})` : state.me.role;
  document.getElementById('esci').addEventListener('click', async () => { await fetch('/api/session', {method: 'DELETE'}); location.href = '/accesso'; });
  // The header in the chosen language, and the switch to the other one.
  document.documentElement.lang = lang;
  document.querySelectorAll('header nav a, #esci').forEach((e) => { e.textContent = t(e.textContent.trim()); });
  const other = document.getElementById('lingua');
  other.textContent = t('English');
  other.lang = lang === 'en' ? 'it' : 'en';
  other.addEventListener('click', () => { localStorage.setItem('osv-lang', lang === 'en' ? 'it' : 'en'); location.reload(); });
  [state.territories, state.releases] = await Promise.all([api('/api/territories'), api('/api/releases')]);
  state.releases.sort((a, b) => b.created.localeCompare(a.created) || b.version.localeCompare(a.version, undefined, {numeric: true}));
  window.addEventListener('hashchange', route);
  window.addEventListener('resize', () => state.charts.forEach((c) => { if (c.getDom().isConnected) c.resize(); }));
  await route();
}

start();
