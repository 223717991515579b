// RFC 4180 CSV, streamed: records come out with the physical line they start on, so a
// refused row can be reported by the line a person sees in an editor. Quoted fields may
// hold commas, quotes ("") and line breaks; CRLF and LF both end a record.

export interface CsvRecord {
  line: number;
  fields: string[];
  /** Set when the record's quoting is broken; fields are then what could be read. */
  error?: string;
}

export function csvParser(onRecord: (record: CsvRecord) => void) {
  let fields: string[] = [];
  let field = '';
  let quoted = false; // inside a quoted field
  let afterQuote = false; // just saw the closing quote (or the first of a "" pair)
  let wasQuoted = false;
  let error: string | undefined;
  let line = 1;
  let recordLine = 1;
  let pendingCr = false;
  let atStart = true;

  const endField = () => {
    fields.push(field);
    field = '';
    wasQuoted = false;
    afterQuote = false;
  };
  const endRecord = () => {
    const blank = fields.length === 0 && field === '' && !wasQuoted && !error; // a blank line is no record
    endField();
    if (!blank) onRecord({ line: recordLine, fields, error });
    fields = [];
    error = undefined;
  };

  function write(text: string): void {
    let i = 0;
    if (atStart && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) i = 1;
      atStart = false;
    }
    for (; i < text.length; i++) {
      const ch = text[i];
      const crlf = pendingCr && ch === '\n'; // the LF of a CRLF pair: one line, not two
      pendingCr = ch === '\r';
      if (quoted) {
        if (ch === '"') {
          quoted = false;
          afterQuote = true;
        } else {
          field += ch;
          if (ch === '\r' || (ch === '\n' && !crlf)) line++;
        }
        continue;
      }
      if (crlf) continue; // the record ended at the CR
      if (ch === '"') {
        if (afterQuote) {
          field += '"'; // "" inside a quoted field
          quoted = true;
          afterQuote = false;
        } else if (field === '' && !wasQuoted) {
          quoted = true;
          wasQuoted = true;
        } else {
          error ??= 'quote inside an unquoted field';
          field += ch;
        }
      } else if (ch === ',') {
        endField();
      } else if (ch === '\n' || ch === '\r') {
        endRecord();
        line++;
        recordLine = line;
      } else {
        if (afterQuote) error ??= 'text after a closing quote';
        field += ch;
      }
    }
  }

  function end(): void {
    if (quoted) error ??= 'quoted field not closed before the end of the file';
    if (field !== '' || fields.length > 0 || quoted || wasQuoted) endRecord();
  }

  return { write, end };
}
