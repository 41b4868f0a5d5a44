/**
 * `ami.deprecate-after`: when EC2 deprecates each AMI of a build. Either a
 * duration after the AMI was registered, in days or weeks as ISO 8601 writes
 * them ("P180D", "P26W"), or a date ("2027-06-30", or a full UTC time
 * "2027-06-30T12:00:00Z"; a TOML date works too). EC2 rounds to the minute.
 */
export type Deprecation = { after: { days: number } } | { at: Date };

const DURATION = /^P(\d+)([DW])$/;
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z)?$/;

/** The deprecation a value names, or a sentence saying what is wrong with it. */
export function parseDeprecation(value: string | Date): Deprecation | string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'not a date' : { at: value };
  const duration = DURATION.exec(value);
  if (duration) {
    const days = Number(duration[1]) * (duration[2] === 'W' ? 7 : 1);
    return days >= 1 ? { after: { days } } : 'a duration of at least one day, e.g. "P180D"';
  }
  if (DATE.test(value)) {
    const at = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
    if (!Number.isNaN(at.getTime())) return { at };
  }
  return 'expected a duration after registration such as "P180D" (days) or "P26W" (weeks), or a UTC date such as "2027-06-30"';
}

/** When an AMI registered at `registeredAt` is deprecated, to the minute (as EC2 keeps it). */
export function deprecationTime(deprecation: Deprecation, registeredAt: Date): Date {
  const at =
    'at' in deprecation ? deprecation.at : new Date(registeredAt.getTime() + deprecation.after.days * 86_400_000);
  return new Date(Math.round(at.getTime() / 60_000) * 60_000);
}

/** The plan's words for it: the date, or the duration with the date it gives if the AMI is registered now. */
export function describeDeprecation(deprecation: Deprecation, now: Date): string {
  return 'at' in deprecation
    ? deprecationTime(deprecation, now).toISOString()
    : `${deprecation.after.days} days after registration (about ${deprecationTime(deprecation, now).toISOString().slice(0, 10)} for an AMI registered now)`;
}
