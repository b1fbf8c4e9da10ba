/** The query parameters /write reads; '' for one that is absent. */
export interface WriteParams {
  db: string;
  rp: string;
  precision: string;
}

/** Characters for which a query string needs URLSearchParams' decoding ('%', '+', non-ASCII) or its '?' stripping. */
const PERCENT = 0x25;
const PLUS = 0x2b;
const QUESTION = 0x3f;

/**
 * db, rp and precision of a /write query string (the part after '?'), the way URLSearchParams.get()
 * reads them: the first occurrence of each name, '' when absent or without '='. A plain query string
 * (ASCII, no '%', no '+') — what clients send — is read with indexOf and slice, without the URLSearchParams
 * object and its list of every pair; anything else goes through URLSearchParams, so the answer is
 * always its answer.
 */
export function writeParamsOf(search: string): WriteParams {
  const params: WriteParams = { db: '', rp: '', precision: '' };
  if (search.length === 0) return params;
  if (needsDecoding(search)) {
    const query = new URLSearchParams(search);
    params.db = query.get('db') ?? '';
    params.rp = query.get('rp') ?? '';
    params.precision = query.get('precision') ?? '';
    return params;
  }
  let seen = 0; // bits: 1 db, 2 rp, 4 precision
  let at = 0;
  while (at <= search.length && seen !== 7) {
    let end = search.indexOf('&', at);
    if (end < 0) end = search.length;
    const eq = search.indexOf('=', at);
    const nameEnd = eq >= 0 && eq < end ? eq : end;
    const length = nameEnd - at;
    if (length === 2 && search.startsWith('db', at)) {
      if ((seen & 1) === 0) params.db = valueOf(search, nameEnd, end);
      seen |= 1;
    } else if (length === 2 && search.startsWith('rp', at)) {
      if ((seen & 2) === 0) params.rp = valueOf(search, nameEnd, end);
      seen |= 2;
    } else if (length === 9 && search.startsWith('precision', at)) {
      if ((seen & 4) === 0) params.precision = valueOf(search, nameEnd, end);
      seen |= 4;
    }
    at = end + 1;
  }
  return params;
}

function valueOf(search: string, nameEnd: number, end: number): string {
  return nameEnd < end ? search.slice(nameEnd + 1, end) : '';
}

function needsDecoding(search: string): boolean {
  if (search.charCodeAt(0) === QUESTION) return true;
  for (let i = 0; i < search.length; i++) {
    const c = search.charCodeAt(i);
    if (c === PERCENT || c === PLUS || c >= 0x80) return true;
  }
  return false;
}
