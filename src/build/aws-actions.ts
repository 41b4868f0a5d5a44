/**
 * One AWS API call a build makes (or may make), as the plan shows it. The
 * steps that make the calls describe them (share's `shareActions`, the push's
 * `pushPlan`, ami-register's `pubsysActions`), so the plan and the build
 * cannot drift apart.
 */
export interface AwsAction {
  step: string;
  /** Who calls it: bro itself, or pubsys under `cargo make ami`. */
  by: 'bro' | 'pubsys';
  region: string;
  service: 'ec2' | 'ecr' | 'ebs' | 'ssm';
  /** The API operation, as the SDK names it (e.g. ModifyImageAttribute). */
  action: string;
  /** What it acts on. */
  target: string;
  /** When the call is made, if not always; or what it is for. */
  note?: string;
  /** Whether the call adds or removes the accounts. */
  change?: 'add' | 'remove';
  /** Accounts the call adds or removes. */
  accounts?: string[];
  /** Made once for each snapshot of the AMI (their IDs are known only once pubsys has registered it). */
  perSnapshot?: boolean;
  /** Made by a rerun that finds the step done with the same inputs: it verifies before it skips. */
  onRerun?: boolean;
}
