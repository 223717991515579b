import { XMLParser, XMLValidator } from 'fast-xml-parser';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'site' });

export interface Site {
  url: string;
  domain?: string;
  status: string;
  rating?: string;
  rated?: string;
  expires?: string;
  info?: string;
  reason?: string;
}

/** The <site> elements of a ratings document; throws if it is not well-formed. */
export function sites(xml: string): Site[] {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`not well-formed XML: ${JSON.stringify(valid)}\n${xml}`);
  return parser.parse(xml).ratings?.site ?? [];
}

export function errorOf(xml: string): { status: string; code: string; text: string; 'request-id'?: string } {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`not well-formed XML: ${JSON.stringify(valid)}\n${xml}`);
  const e = parser.parse(xml).error;
  return { ...e, text: e['#text'] };
}
