@0x9b099223ded801d1;
# Every message between clients, the coordinator and workers. One Envelope per frame;
# frames use Cap'n Proto's standard stream framing and are coalesced into one write when
# several are ready. Batches (submitBatch, resultBatch) carry many tasks in one frame.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("shoal::proto::schema");

const protocolVersion :UInt32 = 4;
# 2: error kinds and connection error codes are enums (they were text).
# 3: the token never travels: TCP peers answer a challenge (Challenge, Proof).
# 4: values of 1 MiB or more travel beside the message that names them (BlobHeader).

enum Role {
  client @0;
  worker @1;
  coordinator @2;
}

struct Hello {
  # First message on a connection, from the side that connected.
  protocolVersion @0 :UInt32;
  role @1 :Role;
  name @2 :Text;
  host @3 :Text;
  pid @4 :UInt32;
  token @5 :Text;          # unused since protocol 3: the token never travels (see Challenge)
  resumePeerId @6 :UInt64; # 0: a new identity; else the id of a connection being resumed
  nonce @7 :Data;          # 32 random bytes, for the coordinator's proof (Challenge)
}

struct Challenge {
  # Coordinator -> a peer over TCP, in answer to its Hello: the coordinator proves it
  # knows the token, and asks the peer to prove it too. proof = HMAC-SHA256(token,
  # "shoal coordinator" || hello.nonce || nonce).
  nonce @0 :Data;          # 32 random bytes
  proof @1 :Data;
}

struct Proof {
  # Peer -> coordinator, after checking the Challenge's proof: HMAC-SHA256(token,
  # "shoal peer" || challenge.nonce || hello.nonce). Then comes the Welcome.
  proof @0 :Data;
}

struct Welcome {
  # The accepting side's answer to Hello. A refusal is an Error, then the connection closes.
  protocolVersion @0 :UInt32;
  peerId @1 :UInt64;       # the id the coordinator gave this connection
  name @2 :Text;
  journaled @3 :Bool;      # submits are acknowledged with `accepted` once durable
  heartbeatMs @4 :UInt32;  # send something at least this often
  catalog @5 :Catalog;     # to clients: what the live workers can run
}

struct Catalog {
  functions @0 :List(FunctionSig);
  actors @1 :List(ActorSig);
}

struct FunctionSig {
  name @0 :Text;
  signatureHash @1 :UInt64;
  signature @2 :Text;      # readable, e.g. "int64(int64,string)"
  isCoroutine @3 :Bool;
}

struct ActorSig {
  name @0 :Text;
  constructorHash @1 :UInt64;
  methods @2 :List(FunctionSig);
}

struct RegisterWorker {
  capacity @0 :UInt32;     # tasks it runs at once
  functions @1 :List(FunctionSig);
  actors @2 :List(ActorSig);
  host @3 :Text;
  pid @4 :UInt32;
  coroutineCapacity @5 :UInt32;  # coroutine tasks it runs at once
  running @6 :List(UInt64);      # tasks still running from before a reconnect
  maxTasks @7 :UInt32;           # 0: unlimited; else it exits after this many
  liveActors @8 :List(UInt64);   # actors it hosts from before a reconnect (a coordinator
                                 # restarted on its journal takes them back; others release them)
  resources @9 :List(Resource);  # what it offers (shoal-worker --resources; cpu and memory
                                 # are the machine's unless told)
  labels @10 :List(Text);        # "zone=a" (shoal-worker --label)
  libraries @11 :List(Text);     # the task libraries it loaded (absolute paths), for replays
  executable @12 :Text;          # its program (absolute path), for replays
}

struct Resource {
  name @0 :Text;           # letters, digits, '_', '.', '-' (at most 64)
  amount @1 :Float64;      # 0 to 1e15, counted in 1/10000
}

enum Strategy {
  spread @0;               # the least loaded worker that fits
  pack @1;                 # the most loaded worker that still fits
}

struct TaskOptions {
  timeoutMs @0 :UInt64;    # 0: none
  retries @1 :Int32;       # -1: the function's default
  detached @2 :Bool;       # the result outlives the submitter (kept for the result TTL)
  resources @3 :List(Resource);  # held on its worker while it runs (an actor: while it lives)
  labels @4 :List(Text);         # its worker must have these: "zone=a", "disk!=hdd"
  preferredLabels @5 :List(Text);  # and should, where one that has them has room
  strategy @6 :Strategy;
  priority @7 :Int32;      # higher goes first
  retryOn @8 :List(Text);  # application errors to run it again for: type names as
                           # RemoteError.typeName ("shoal::ValueError"; "ValueError"
                           # matches it too), "*" for any failure
  retryAttempts @9 :UInt32;      # with retryOn: runs after the first, at most
  retryBackoffMs @10 :UInt64;    # before the first such run; doubling after each
  retryMaxBackoffMs @11 :UInt64; # the longest wait between runs
}

struct Submit {
  taskId @0 :UInt64;       # chosen by the submitter, unique per connection
  function @1 :Text;
  signatureHash @2 :UInt64;
  args @3 :Data;           # shoal::codec encoding of the argument tuple
  deps @4 :List(UInt64);   # global ids of the tasks whose results future_ref i names (deps[i])
  options @5 :TaskOptions;
  actorId @6 :UInt64;      # 0: a plain task; else a call on this actor
  method @7 :Text;         # with actorId: the method
  argsBlob @8 :UInt64;     # not 0: args is empty, the value is this blob (BlobHeader)
  parent @9 :UInt64;       # the task that submitted it from a worker (0: none): cancelling
                           # that task cancels this one too (Ray's recursive cancel)
}

struct Assign {
  # Coordinator -> worker: run this task. depValues holds the deps' results, in order.
  taskId @0 :UInt64;       # the coordinator's id for the task
  function @1 :Text;
  signatureHash @2 :UInt64;
  args @3 :Data;
  depValues @4 :List(Data);
  attempt @5 :UInt32;
  timeoutMs @6 :UInt64;
  actorId @7 :UInt64;
  method @8 :Text;
  argsBlob @9 :UInt64;     # as Submit.argsBlob
  depBlobs @10 :List(UInt64);  # empty, or one per depValues entry: not 0 = that blob;
                               # 0xffffffffffffffff = the value of depIds[i], which the
                               # worker holds from an earlier assign (streamed peers)
  depIds @11 :List(UInt64);    # with depBlobs over TCP: the dependencies' task ids; the
                               # worker keeps a large value under its id until a Release
}

enum ErrorKind {
  # What a caller can do about an error: shoal::ErrorKind.
  failed @0;               # a bug or a bad input: retrying the same thing fails again
  cancelled @1;            # not a failure
  timeout @2;
  invalidState @3;
  overloaded @4;           # retry later
  disconnected @5;         # a peer went away: retry elsewhere
}

struct RemoteError {
  typeName @0 :Text;
  message @1 :Text;
  function @2 :Text;
  taskId @3 :UInt64;
  host @4 :Text;
  pid @5 :UInt32;
  kind @6 :ErrorKind;
}

struct Result {
  taskId @0 :UInt64;
  union {
    value @1 :Data;
    error @2 :RemoteError;
    cancelled @3 :Void;
    handedBack @7 :Void;   # worker -> coordinator: not run (draining); schedule it elsewhere
  }
  attempt @4 :UInt32;
  runNs @5 :UInt64;        # how long it ran, for the coordinator's windows
  worker @6 :UInt64;       # set by the coordinator: the peer id of the worker that ran it
  valueBlob @8 :UInt64;    # with value: not 0 = the value is this blob (value is empty)
}

struct Cancel {
  taskId @0 :UInt64;
  force @1 :Bool;          # a plain task still running `graceMs` after its stop was asked:
  graceMs @2 :UInt64;      # its worker reports it cancelled and exits (its supervisor restarts it)
}

struct Heartbeat {
  sentNs @0 :UInt64;
  running @1 :UInt32;
  started @2 :UInt64;      # worker: how many assigns it has started, in arrival order
  cpuNs @3 :UInt64;        # worker, once a heartbeat period: its process's CPU time (0: not this one)
  rssBytes @4 :UInt64;     # and its resident size
}

struct ActorCreate {
  actorId @0 :UInt64;
  className @1 :Text;
  constructorHash @2 :UInt64;
  args @3 :Data;
  taskId @4 :UInt64;       # its Result completes the actor's ready() (and reports a failed constructor)
  argsBlob @5 :UInt64;     # as Submit.argsBlob
  options @6 :TaskOptions; # its placement (resources held while it lives); the rest unused
  maxRestarts @7 :Int32;   # client -> coordinator: constructed again after its worker died (-1: always)
  maxTaskRetries @8 :Int32;  # a running call runs again on the restarted actor (-1: always)
  maxConcurrency @9 :UInt32; # calls at once on its worker (0 or 1: one after another)
  name @10 :Text;          # "" unnamed; else found by ActorLookup, unique among live actors
  detached @11 :Bool;      # outlives its creator: ended by Release.killActors only
}

struct ActorInfo {
  # In a StatusReply to a StatusRequest with an actorName: the live actor of that name.
  actorId @0 :UInt64;      # 0: none (error says why)
  className @1 :Text;
  constructorHash @2 :UInt64;
  error @3 :Text;
}

struct Blocked {
  # Worker -> coordinator: a plain task is blocked waiting on a nested task (its slot is free).
  taskId @0 :UInt64;
  blocked @1 :Bool;
}

struct Crashed {
  # Worker -> coordinator, from a fatal signal handler as the worker dies: which signal,
  # and the task the faulting thread ran (0: none known). Sent beside the frame writer
  # once it has claimed the socket, so that it never lands inside another frame.
  signal @0 :Int32;
  taskId @1 :UInt64;
  forced @2 :Bool;         # not a signal: it exits for a forced cancel of taskId (signal 0)
}

struct Release {
  # Client -> coordinator: nobody holds these futures or actor handles any more.
  tasks @0 :List(UInt64);
  actors @1 :List(UInt64);
  killActors @2 :List(UInt64);  # end these actors whoever made them (detached ones too)
}

struct Subscribe {
  # Ask for the results of tasks submitted elsewhere (e.g. by another client).
  taskIds @0 :List(UInt64);
  withOutput @1 :Bool;     # first the output each has printed so far (TaskOutput), then as it comes
}

enum ErrorCode {
  protocol @0;             # malformed or unexpected input
  version @1;              # the peers speak different protocol versions
  auth @2;                 # the peer did not prove who it is
  overloaded @3;
  shuttingDown @4;
  refused @5;              # the coordinator will not take this worker as it is (its
                           # registration conflicts with the live workers'); it may try later
}

struct Error {
  # A connection-level problem; the sender closes the connection after it when fatal.
  code @0 :ErrorCode;
  message @1 :Text;
  fatal @2 :Bool;
}

struct Shutdown {
  graceMs @0 :UInt64;
  reason @1 :Text;
  exit @2 :Bool;           # coordinator -> worker: exit when drained (false: reconnect later)
}

enum TaskState {
  unknown @0;
  waiting @1;              # on dependencies
  queued @2;
  assigned @3;
  running @4;
  done @5;
  failed @6;
  cancelled @7;
}

struct TaskInfo {
  taskId @0 :UInt64;
  function @1 :Text;
  state @2 :TaskState;
  attempt @3 :UInt32;
  worker @4 :UInt64;
  actorId @5 :UInt64;
  submittedNs @6 :UInt64;  # wall clock (ns since the epoch)
  finishedNs @7 :UInt64;
  error @8 :Text;          # a failed task's error, one line
  runNs @9 :UInt64;        # how long it ran on its worker (0: not finished there)
  note @10 :Text;          # why a queued task waits, e.g. "waiting: no worker has fib"
  job @11 :Text;           # the name its submitting client gave (`shoal run`: the job's name)
  startedNs @12 :UInt64;   # wall clock: its latest attempt was sent to its worker (0: never)
  stdout @13 :Data;        # with StatusRequest.logs: what it printed, as kept (bounded)
  stderr @14 :Data;
}

struct AttemptInfo {
  # One attempt of a task on a worker (the timeline): from its assign to its end.
  taskId @0 :UInt64;
  function @1 :Text;
  attempt @2 :UInt32;
  workerId @3 :UInt64;
  workerName @4 :Text;
  job @5 :Text;
  submittedNs @6 :UInt64;  # wall clock, ns since the epoch
  startedNs @7 :UInt64;    # sent to the worker
  endedNs @8 :UInt64;      # its result came (or its worker was lost)
  runNs @9 :UInt64;        # as the worker measured it (0: unknown)
  outcome @10 :Text;       # done, failed, cancelled, retried, handed back, worker lost
  error @11 :Text;
}

struct StatusRequest {
  taskId @0 :UInt64;       # 0: the whole cluster
  requestId @1 :UInt64;    # echoed in the reply
  listTasks @2 :Bool;      # with no taskId: list tasks (filtered, limited)
  stateFilter @3 :TaskState;  # unknown: every state
  limit @4 :UInt32;        # 0: a default (1000)
  attempts @5 :Bool;       # the timeline: the attempts the coordinator remembers
  sinceNs @6 :UInt64;      # ...that ended at or after this wall-clock time
  job @7 :Text;            # ...of this job's tasks only ("" every job)
  logs @8 :Bool;           # with a taskId: its output as kept (TaskInfo.stdout, stderr)
  actorName @9 :Text;      # not "": only the live actor of this name (StatusReply.actor)
  replay @10 :Bool;        # with a taskId: what the coordinator kept to replay it (StatusReply.replay)
}

struct WorkerStatus {
  peerId @0 :UInt64;
  name @1 :Text;
  host @2 :Text;
  pid @3 :UInt32;
  capacity @4 :UInt32;
  running @5 :UInt32;
  draining @6 :Bool;
  actors @7 :UInt32;
  done @8 :UInt64;         # tasks it has finished
  functions @9 :UInt32;    # how many functions it registered
  resources @10 :List(Resource);  # what it offers
  used @11 :List(Resource);       # of that, what running tasks and live actors hold
  labels @12 :List(Text);
}

struct StatusReply {
  workers @0 :List(WorkerStatus);
  queued @1 :UInt64;
  running @2 :UInt64;
  done @3 :UInt64;
  failed @4 :UInt64;
  state @5 :TaskState;     # with a taskId
  requestId @6 :UInt64;
  tasks @7 :List(TaskInfo);  # with a taskId: that one; with listTasks: the list
  cancelled @8 :UInt64;
  waiting @9 :UInt64;
  httpAddress @10 :Text;   # where its dashboard and metrics are served ("" none)
  attempts @11 :List(AttemptInfo);  # with attempts
  unserved @12 :List(Unserved);     # functions whose queued tasks wait for a worker that has them
  actor @13 :ActorInfo;             # with actorName
  replay @14 :ReplayInfo;           # with replay
}

struct ReplayInfo {
  # A failed task as the coordinator kept it (shoal-coordinator --keep-failed): enough to
  # run the same function with the same arguments elsewhere (shoal replay).
  taskId @0 :UInt64;
  missing @1 :Text;        # why nothing is kept ("" when it is: the fields below are set)
  function @2 :Text;
  signature @3 :Text;      # as the workers registered it ("" when none did)
  signatureHash @4 :UInt64;
  args @5 :Data;           # the encoded argument tuple, as submitted
  deps @6 :List(Data);     # its dependencies' values, in the order of its dependencies
  method @7 :Text;         # "map" for a chunk of a map ("" a plain call)
  attempt @8 :UInt32;
  errorType @9 :Text;      # how it failed
  errorMessage @10 :Text;
  crashSignal @11 :Int32;  # the signal its worker died of running it (0: none)
  worker @12 :Text;        # where it last ran ("" nowhere)
  host @13 :Text;
  pid @14 :UInt32;
  libraries @15 :List(Text);
  executable @16 :Text;
  failedNs @17 :UInt64;    # wall clock
  argsBlob @18 :UInt64;    # args beside the frame (BlobHeader id; 0: inline)
  depBlobs @19 :List(UInt64);  # per dependency: beside the frame (0: inline in deps)
}

struct Unserved {
  function @0 :Text;
  tasks @1 :UInt64;        # queued, waiting for a worker that registered it
  failsInMs @2 :UInt64;    # when they fail with NotRegistered unless one registers it
}

struct TaskOutput {
  taskId @0 :UInt64;
  stream @1 :UInt8;        # 1: stdout, 2: stderr
  data @2 :Data;           # a chunk, as the task wrote it (a task's stream is capped)
}

enum BlobVia {
  fd @0;                   # a sealed memfd passed with this frame (SCM_RIGHTS, Unix sockets)
  stream @1;               # BlobChunk frames follow, in order, until `size` bytes came
  local @2;                # in-process: handed over beside the frame
}

struct BlobHeader {
  # A large value travelling beside the frames: it comes before the one message that
  # names it (by id) and belongs to that message. Ids count up from 1 per connection and
  # direction. Only after the handshake; a receiver drops blobs nobody claimed.
  id @0 :UInt64;
  size @1 :UInt64;
  via @2 :BlobVia;
  offset @3 :UInt64;       # fd: where the value starts in the memfd
}

struct BlobChunk {
  # The next bytes of the blob being streamed (at most 1 MiB a chunk).
  id @0 :UInt64;
  data @1 :Data;
}

struct Envelope {
  union {
    hello @0 :Hello;
    welcome @1 :Welcome;
    registerWorker @2 :RegisterWorker;
    submit @3 :Submit;
    submitBatch @4 :List(Submit);
    assign @5 :Assign;
    assignBatch @6 :List(Assign);
    result @7 :Result;
    resultBatch @8 :List(Result);
    cancel @9 :Cancel;
    heartbeat @10 :Heartbeat;
    actorCreate @11 :ActorCreate;
    subscribe @12 :Subscribe;
    error @13 :Error;
    shutdown @14 :Shutdown;
    statusRequest @15 :StatusRequest;
    statusReply @16 :StatusReply;
    accepted @17 :List(UInt64);   # journal mode: these submits are durable
    catalog @18 :Catalog;         # to clients: the catalog changed
    blocked @19 :Blocked;
    release @20 :Release;
    challenge @21 :Challenge;
    proof @22 :Proof;
    crashed @23 :Crashed;
    output @24 :TaskOutput;       # worker -> coordinator -> the task's submitter and
                                  # subscribers: its output as it comes (shoal.exec)
    blob @25 :BlobHeader;
    blobChunk @26 :BlobChunk;
    logFollow @27 :LogFollow;     # client -> coordinator -> worker: stream your log (or stop)
    logLines @28 :LogLines;       # worker -> coordinator -> the clients following its log
  }
}

struct LogFollow {
  worker @0 :Text;         # client -> coordinator: the worker's name
  follow @1 :Bool;         # start (true) or stop
}

struct LogLines {
  worker @0 :Text;         # coordinator -> client: whose
  data @1 :Data;           # what it wrote to its log (its log lines and its tasks' output), as it came
  error @2 :Text;          # coordinator -> client: why there is nothing to follow ("" none)
}
