/**
 * Remote procedure calls over RabbitMQ, for Deno: RabbitMQ's RPC tutorial
 * made whole. A correlation-aware {@linkcode RpcClient} and a worker API,
 * {@linkcode serve}, shaped like `Deno.serve`: one handler, or many typed
 * methods on one queue, with middleware and trace context. Metrics, health
 * endpoints, loggers and the OpenTelemetry bridge are in the
 * `observability.ts` entry point.
 *
 * @example Typed methods
 * ```ts ignore
 * import { RpcClient, serve } from "./mod.ts";
 *
 * const methods = {
 *   add: ({ a, b }: { a: number; b: number }) => a + b,
 *   upper: (text: string) => text.toUpperCase(),
 * };
 * await using server = await serve({ queue: "calc", methods });
 * await using client = await RpcClient.connect();
 * const calc = client.service<typeof methods>("calc");
 * console.log(await calc.add({ a: 1, b: 2 })); // 3
 * ```
 *
 * @example A worker and a client
 * ```ts ignore
 * import { RpcClient, serve } from "./mod.ts";
 *
 * await using server = await serve({ queue: "greet" }, (request) => {
 *   return `Hello, ${request.text()}!`;
 * });
 * await using client = await RpcClient.connect();
 * const reply = await client.call("greet", "Deno", { timeout: 5_000 });
 * console.log(reply.text()); // Hello, Deno!
 * ```
 *
 * @module
 */

// Calling
export { RpcClient } from "./lib/client/rpc_client.ts";
export type {
  CallOptions,
  ClientInit,
  ClientOptions,
} from "./lib/client/options.ts";
export type {
  ClientMiddleware,
  OutgoingCall,
} from "./lib/client/middleware.ts";
export type {
  MethodCaller,
  ServiceClient,
  ServiceOptions,
} from "./lib/client/service.ts";
export type {
  RpcTransport,
  TransportListener,
} from "./lib/client/transport.ts";

// Serving
export { serve } from "./lib/worker/serve.ts";
export {
  type ServeOptions,
  TUTORIAL_QUORUM_QUEUE,
} from "./lib/worker/options.ts";
export { RpcServer } from "./lib/worker/rpc_server.ts";
export type {
  RpcHandler,
  RpcMethod,
  RpcMethods,
} from "./lib/worker/methods.ts";
export type { ServerMiddleware } from "./lib/worker/middleware.ts";
export {
  type ModuleService,
  serviceOfModule,
} from "./lib/worker/module_service.ts";
export type { QueueOption, QueueType } from "./lib/protocol/queue.ts";

// Contracts
export {
  type Contract,
  type ContractMethod,
  contractOf,
  method,
} from "./lib/contract/method.ts";
export type {
  InferInput,
  InferOutput,
  StandardIssue,
  StandardResult,
  StandardSchema,
  StandardSchemaProps,
  StandardTypes,
} from "./lib/contract/standard_schema.ts";
export type { Issue } from "./lib/contract/issues.ts";
export type { QueueState } from "./lib/worker/transport.ts";

// Messages
export { RpcMessage, RpcReply, RpcRequest } from "./lib/protocol/message.ts";
export type {
  HeaderValue,
  MessageProperties,
} from "./lib/protocol/properties.ts";
export type { Jsonified, JsonItem, Sent } from "./lib/protocol/sent.ts";
export type { TraceContext } from "./lib/protocol/trace.ts";
export { PROTOCOL_VERSION } from "./lib/protocol/version.ts";
export { ERROR_CODES, type ErrorCode } from "./lib/protocol/error_codes.ts";

// Errors
export {
  AccessRefusedError,
  ClosedError,
  ConnectionError,
  ConnectionLostError,
  HandlerError,
  MethodNotFoundError,
  NoRouteError,
  ProtocolError,
  QueueError,
  type QueueMismatch,
  RemoteError,
  RpcError,
  TimeoutError,
} from "./lib/errors.ts";

// Connections
export type { ConnectionOptions, TlsOptions } from "./lib/amqp/connection.ts";
export type { ReconnectOptions } from "./lib/amqp/backoff.ts";
export type { ConnectionState } from "./lib/amqp/supervisor.ts";
export {
  ConnectionEvent,
  type ConnectionEventType,
} from "./lib/amqp/events.ts";
export type { LogFields, Logger } from "./lib/observability/logger.ts";
