/** Fixed credentials: the simulator's upstream key and the gateway's client key. */
export const UPSTREAM_API_KEY = 'sk-bench-upstream-0000000000000000';
export const GATEWAY_API_KEY = 'ig-bench-client-00000000000000000000';
