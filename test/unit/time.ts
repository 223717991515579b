// Times as SQL text (lib/core/time.ts): sqlTime formats from the UTC getters; it must give
// exactly what the ISO form gives, for every date a rating can carry.
import t from 'tap';
import { parseTime, sqlTime } from '../../lib/core/time.js';

t.test('sqlTime equals the ISO form cut to seconds, over years 1000-9999', async (t) => {
  const lo = Date.UTC(1000, 0, 1);
  const hi = Date.UTC(9999, 11, 31, 23, 59, 59);
  let differ = 0;
  for (let i = 0; i < 20000; i++) {
    const date = new Date(lo + Math.floor(Math.random() * (hi - lo)));
    if (sqlTime(date) !== date.toISOString().slice(0, 19).replace('T', ' ')) differ++;
  }
  t.equal(differ, 0);
  t.equal(sqlTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 999))), '2026-01-02 03:04:05', 'milliseconds dropped, fields padded');
  t.equal(sqlTime(new Date(Date.UTC(9999, 11, 31, 23, 59, 59))), '9999-12-31 23:59:59');
});

t.test('parseTime: zones, rollovers and the year range', async (t) => {
  t.equal(parseTime('2026-03-04'), '2026-03-04 00:00:00');
  t.equal(parseTime('2026-03-04T05:06:07+02:00'), '2026-03-04 03:06:07');
  t.equal(parseTime('2026-02-30'), null, 'a day Date would roll over');
  t.equal(parseTime('0999-12-31'), null, 'before 1000');
  t.equal(parseTime('1000-01-01T00:00:00Z'), '1000-01-01 00:00:00');
  t.equal(parseTime('9999-12-31T23:59:59Z'), '9999-12-31 23:59:59');
  t.equal(parseTime('9999-12-31T23:59:59-01:00'), null, 'a zone that moves it past 9999');
});
