/** The parts of the API's JSON-LD resources the console reads (openapi.json has the full shapes). */

export type Privilege = 'read' | 'submit' | 'manage';

export interface Caller {
  key: string;
  admin: boolean;
  customer?: number;
  privileges: Privilege[];
}

export interface CustomerQueue {
  size: number;
  batchesWaiting: number;
  imagesWaiting: number;
}

export interface PageView {
  '@id'?: string;
  first?: string;
  previous?: string;
  next?: string;
  last?: string;
}

export interface Collection<T> {
  totalItems?: number;
  pageSize?: number;
  member: T[];
  view?: PageView;
}

export interface Batch {
  '@id': string;
  id: number;
  submitted: string;
  count: number;
  completed: number;
  errors: number;
  cancelled?: number;
  finished?: string;
  superseded: boolean;
  estCompletion?: string;
  cancelledAt?: string;
  retryOf?: string;
  retries?: string[];
  images: string;
  completedImages: string;
  errorImages: string;
  test: string;
}

export type ImageState = 'waiting' | 'running' | 'completed' | 'error' | 'cancelled';

export interface Image {
  id: string;
  space: number;
  origin: string;
  state?: ImageState;
  ingesting?: boolean;
  width?: number;
  height?: number;
  error?: string;
  string1?: string;
  string2?: string;
  string3?: string;
  finished?: string;
}

export interface TestResult {
  success: boolean;
}

export interface LoadSample {
  time: string;
  pending_count: number;
  queued_count: number;
  running_count: number;
}

export interface QueueLoad {
  count: number;
  next: string | null;
  previous: string | null;
  results: LoadSample[];
}

export interface MemberProblem {
  member?: number;
  field?: string;
  message?: string;
}
