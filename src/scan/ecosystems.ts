/**
 * Release scopes of OSV ecosystems. Most OS ecosystems name one release ('Debian:12', 'Rocky Linux:9'),
 * and a package of that release matches exactly those advisories. Two vendors split a release further:
 * Red Hat publishes one ecosystem per product stream and repository ('Red Hat:enterprise_linux:9::baseos',
 * '…::appstream', 'Red Hat:enterprise_linux:10.0'), and SUSE one per product or module of a service pack
 * ('SUSE:Linux Enterprise Module for Basesystem 15 SP5', 'SUSE:Linux Enterprise Server 15 SP5-LTSS').
 * An image does not record which repository or module a package came from, and every stream of a
 * release ships the same builds, so their advisories are indexed and matched under the release:
 * 'Red Hat:enterprise_linux:9' and 'SUSE:Linux Enterprise 15 SP5'. Other streams (EUS, AUS, E4S, SAP
 * add-ons of RHEL) are kept apart: a RHEL image follows the main stream.
 */

const RED_HAT = /^Red Hat:enterprise_linux:(\d+)(?:[.:]|$)/;
const SUSE = /^SUSE:Linux Enterprise (?:[^:]* )?(\d+)(?: SP(\d+))?(?:-[A-Za-z]+)?$/;

/** The scope an ecosystem's advisories are matched in; the ecosystem itself for all but Red Hat and SUSE. */
export function releaseScope(ecosystem: string): string {
  const rh = RED_HAT.exec(ecosystem);
  if (rh) return `Red Hat:enterprise_linux:${rh[1]}`;
  const suse = SUSE.exec(ecosystem);
  if (suse) return `SUSE:Linux Enterprise ${suse[1]}${suse[2] && suse[2] !== '0' ? ` SP${suse[2]}` : ''}`;
  return ecosystem;
}
