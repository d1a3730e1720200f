import pg from "pg";

// How the poll reads rows: timestamps straight into the ISO strings its JSON needs. pg's default
// turns each into a Date, and JSON.stringify then turns it back; objects with a toJSON method leave
// V8's fast serializer, so a 50-entry page took 4× longer to stringify with Dates than with strings.
const TIMESTAMPTZ = pg.types.builtins.TIMESTAMPTZ;
const parseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ);
const UTC_TEXT = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

/** PostgreSQL's text for a timestamptz as the ISO string Date#toJSON gives (milliseconds, UTC). */
export function isoTimestamp(text: string): string {
  const utc = UTC_TEXT.exec(text);
  if (utc) return `${utc[1]}T${utc[2]}.${(utc[3] ?? "").padEnd(3, "0").slice(0, 3)}Z`;
  return (parseTimestamptz(text) as Date).toISOString(); // another offset, a BC date or a year past 9999
}

/** Type parsers for a pg query whose rows go straight into JSON: timestamps as ISO strings. */
export const jsonTypes: pg.CustomTypesConfig = {
  getTypeParser: (oid, format) => (oid === TIMESTAMPTZ ? isoTimestamp : pg.types.getTypeParser(oid, format)),
};
