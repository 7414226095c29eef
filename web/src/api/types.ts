// Types of the objects the console reads (docs/api.md). Only the fields the console uses; the
// API only ever adds fields, so every field is optional unless the server always sets it.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface KubeList<T> {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface Status {
  kind: 'Status';
  apiVersion?: string;
  status?: string;
  code?: number;
  reason?: string;
  message?: string;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[] };
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastHeartbeatTime?: string;
  observedGeneration?: number;
}

export interface Resources {
  cpu?: string;
  memory?: string;
  pods?: number;
}

export interface Cluster extends KubeObject {
  spec: { region: string; zone: string; runtime?: string; capacity?: Resources; taints?: { key: string; value?: string; effect: string }[] };
  status?: { conditions?: Condition[]; capacity?: Resources; allocatable?: Resources; lastHeartbeatTime?: string; observedGeneration?: number };
}

export interface Cell extends KubeObject {
  spec: { type: 'RZone' | 'GZone' | 'CZone'; region: string; clusters?: string[]; standby?: string };
  status?: { phase?: string; conditions?: Condition[] };
}

export interface ShardMapRollout {
  version?: number;
  proxiesAcked?: number;
  proxiesTotal?: number;
  done?: boolean;
  datacenters?: { name: string; acked?: number; total?: number; time?: string }[];
  updateTime?: string;
}

export interface ShardMap extends KubeObject {
  spec: { bucketCount?: number; assignments: { cell: string; buckets: string }[]; reason?: string };
  status?: {
    version?: number;
    history?: { version: number; time?: string; user?: string; reason?: string; change?: string }[];
    rollout?: ShardMapRollout;
    conditions?: Condition[];
  };
}

export interface AppCellStatus {
  name: string;
  replicas?: number;
  readyReplicas?: number;
  clusters?: { name: string; replicas?: number; readyReplicas?: number }[];
}

export interface Application extends KubeObject {
  spec: {
    template: { command: string[]; args?: string[]; ports?: { name: string; port: number }[]; resources?: Resources };
    placement: { cells: { names?: string[]; type?: string; selector?: { matchLabels?: Record<string, string> } }; replicasPerCell?: number; totalReplicas?: number; maxSkew?: number; priority?: number; failover?: { enabled?: boolean } };
    traffic?: { port?: string; pathPrefix?: string; hosts?: string[]; unitized?: boolean };
  };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    restarts?: number;
    cells?: AppCellStatus[];
    conditions?: Condition[];
  };
}

export interface Binding extends KubeObject {
  spec: { application: string; revisions: { name: string }[]; placements: { cluster: string; cell: string; revision: string; replicas: number }[] };
}

export interface Replica extends KubeObject {
  spec: { application: string; revision: string; cell: string; cluster: string; zone?: string; region?: string; ordinal?: number };
  status?: { state?: string; ready?: boolean; restarts?: number; lastExitCode?: number; message?: string; startedAt?: string; pid?: number; host?: string; ports?: { name?: string; port?: number }[]; endpoint?: string };
}

export interface Proxy extends KubeObject {
  spec: { datacenter?: string; cell?: string; role?: string; listenAddress?: string; adminAddress?: string; buildVersion?: string };
  status?: {
    connected?: boolean;
    desiredVersion?: string;
    ackedVersion?: string;
    lastNackReason?: string;
    lastNackTime?: string;
    lastAckTime?: string;
    lastSeenTime?: string;
    conditions?: Condition[];
  };
}

export interface AuditEvent extends KubeObject {
  auditID?: string;
  requestReceivedTimestamp?: string;
  verb?: string;
  user?: { username?: string; role?: string };
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number; reason?: string; message?: string };
  resourceVersionBefore?: string;
  resourceVersionAfter?: string;
}

export interface TrafficPoint {
  t: string;
  rps: number;
  errorRate: number;
  p99Ms?: number;
}

export interface TrafficSeries {
  datacenter: string;
  cell: string;
  revision: string;
  application: string;
  points: TrafficPoint[];
}

export interface TrafficStats {
  kind: 'TrafficStats';
  time?: string;
  intervalSeconds?: number;
  proxies?: { total?: number; scraped?: number; failed?: { name: string; reason: string }[] };
  series?: TrafficSeries[];
}

export type Role = 'viewer' | 'operator' | 'admin' | 'unknown';

export interface WhoAmI {
  username: string;
  groups: string[];
  role: Role;
}
