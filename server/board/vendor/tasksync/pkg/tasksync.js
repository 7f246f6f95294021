/* @ts-self-types="./tasksync.d.ts" */

export class Engine {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        EngineFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_engine_free(ptr, 0);
    }
    /**
     * The next waiting action as JSON (`{"a": kind, "v": …}`), or nothing.
     * @returns {string | undefined}
     */
    action() {
        const ret = wasm.engine_action(this.__wbg_ptr);
        let v1;
        if (ret[0] !== 0) {
            v1 = getStringFromWasm0(ret[0], ret[1]);
            wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        }
        return v1;
    }
    /**
     * @param {string} task_id
     * @returns {string | undefined}
     */
    aggregateStatus(task_id) {
        const ptr0 = passStringToWasm0(task_id, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.engine_aggregateStatus(this.__wbg_ptr, ptr0, len0);
        let v2;
        if (ret[0] !== 0) {
            v2 = getStringFromWasm0(ret[0], ret[1]);
            wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        }
        return v2;
    }
    /**
     * The answer to request `req` (`status` 0: none came), its body the
     * `len` bytes of UTF-8 written into the inbox.
     * @param {number} now
     * @param {number} req
     * @param {number} status
     * @param {number} len
     * @returns {number}
     */
    answerIn(now, req, status, len) {
        const ret = wasm.engine_answerIn(this.__wbg_ptr, now, req, status, len);
        return ret >>> 0;
    }
    /**
     * @param {number} now
     * @returns {number}
     */
    close(now) {
        const ret = wasm.engine_close(this.__wbg_ptr, now);
        return ret >>> 0;
    }
    /**
     * @param {number} now
     * @param {number} conn
     * @param {number} code
     * @returns {number}
     */
    closed(now, conn, code) {
        const ret = wasm.engine_closed(this.__wbg_ptr, now, conn, code);
        return ret >>> 0;
    }
    /**
     * @param {number} now
     * @returns {number}
     */
    connect(now) {
        const ret = wasm.engine_connect(this.__wbg_ptr, now);
        return ret >>> 0;
    }
    /**
     * When to call `tick()` next (ms since the Unix epoch), or -1.
     * @returns {number}
     */
    deadline() {
        const ret = wasm.engine_deadline(this.__wbg_ptr);
        return ret;
    }
    /**
     * Forgets which entities changed (the caller makes every object again).
     */
    forgetChanges() {
        wasm.engine_forgetChanges(this.__wbg_ptr);
    }
    /**
     * A frame from socket `conn`: the `len` bytes of UTF-8 written into the inbox.
     * @param {number} now
     * @param {number} conn
     * @param {number} len
     * @returns {number}
     */
    frameIn(now, conn, len) {
        const ret = wasm.engine_frameIn(this.__wbg_ptr, now, conn, len);
        return ret >>> 0;
    }
    /**
     * Whether the ids the last `taskIds()` or `sessionIds()` gave follow
     * the ones it gave before (true) or replace them (false).
     * @returns {boolean}
     */
    idsAppended() {
        const ret = wasm.engine_idsAppended(this.__wbg_ptr);
        return ret !== 0;
    }
    /**
     * The address of a buffer of at least `capacity` bytes in this module's
     * memory, for the next input that reads it (`frameIn()`, `messageIn()`,
     * `statusIn()`, `answerIn()`, `snapshotPiece()`; valid until then).
     * Text crosses only so: `TextEncoder.encodeInto` into it is many times
     * faster than passing a string.
     * @param {number} capacity
     * @returns {number}
     */
    inbox(capacity) {
        const ret = wasm.engine_inbox(this.__wbg_ptr, capacity);
        return ret >>> 0;
    }
    /**
     * Whether the answer to request `req` is a snapshot (to feed in pieces
     * when it is successful).
     * @param {number} req
     * @returns {boolean}
     */
    isSnapshotRequest(req) {
        const ret = wasm.engine_isSnapshotRequest(this.__wbg_ptr, req);
        return ret !== 0;
    }
    /**
     * A frame that came by the caller's own transport (`applyMessage`): the
     * `len` bytes of UTF-8 written into the inbox.
     * @param {number} now
     * @param {number} len
     * @returns {number}
     */
    messageIn(now, len) {
        const ret = wasm.engine_messageIn(this.__wbg_ptr, now, len);
        return ret >>> 0;
    }
    /**
     * `options`: `{"url", "token", "autoTransition", "clientId", "seed", "projectId"?}` as JSON.
     * @param {string} options
     */
    constructor(options) {
        const ptr0 = passStringToWasm0(options, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.engine_new(ptr0, len0);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        this.__wbg_ptr = ret[0];
        EngineFinalization.register(this, this.__wbg_ptr, this);
        return this;
    }
    /**
     * @param {number} now
     * @param {boolean} online
     * @returns {number}
     */
    online(now, online) {
        const ret = wasm.engine_online(this.__wbg_ptr, now, online);
        return ret >>> 0;
    }
    /**
     * @returns {number}
     */
    outboxLen() {
        const ret = wasm.engine_outboxLen(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * Drains the engine after an input: "changed" becomes a bit, other
     * actions wait for `action()`. Returns the bits (see `CHANGED`).
     * @returns {number}
     */
    pending() {
        const ret = wasm.engine_pending(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * Call `pending()` after it.
     * @param {number} now
     * @param {string} text
     */
    restoreOutbox(now, text) {
        const val2 = +now;
        const ptr0 = passStringToWasm0(text, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.engine_restoreOutbox(this.__wbg_ptr, val2, ptr0, len0);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * When reconnecting: the time of the next attempt, or -1.
     * @returns {number}
     */
    retryAt() {
        const ret = wasm.engine_retryAt(this.__wbg_ptr);
        return ret;
    }
    /**
     * @returns {number}
     */
    seq() {
        const ret = wasm.engine_seq(this.__wbg_ptr);
        return ret;
    }
    /**
     * @returns {number}
     */
    sessionCount() {
        const ret = wasm.engine_sessionCount(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * @returns {string | undefined}
     */
    sessionIds() {
        const ret = wasm.engine_sessionIds(this.__wbg_ptr);
        let v1;
        if (ret[0] !== 0) {
            v1 = getStringFromWasm0(ret[0], ret[1]);
            wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        }
        return v1;
    }
    /**
     * @param {string} id
     * @returns {string | undefined}
     */
    session(id) {
        const ptr0 = passStringToWasm0(id, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.engine_session(this.__wbg_ptr, ptr0, len0);
        let v2;
        if (ret[0] !== 0) {
            v2 = getStringFromWasm0(ret[0], ret[1]);
            wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        }
        return v2;
    }
    /**
     * @param {boolean} on
     */
    setEmitEvents(on) {
        wasm.engine_setEmitEvents(this.__wbg_ptr, on);
    }
    /**
     * Whether every entity is shown exactly as the server's copy has it.
     * @returns {boolean}
     */
    showsConfirmed() {
        const ret = wasm.engine_showsConfirmed(this.__wbg_ptr);
        return ret !== 0;
    }
    /**
     * The snapshot fed since the last `snapshotEnd()` is whole: the
     * successful answer to request `req` (see `isSnapshotRequest()`), or,
     * with `req` -1, one that came by the caller's own transport.
     * @param {number} now
     * @param {number} req
     * @returns {number}
     */
    snapshotEnd(now, req) {
        const ret = wasm.engine_snapshotEnd(this.__wbg_ptr, now, req);
        return ret >>> 0;
    }
    /**
     * The next `len` bytes (UTF-8, cut anywhere) of a snapshot, written into
     * the inbox: a `GET /api/snapshot` body is fed in pieces, each read as
     * it comes (`SnapshotFeed`), so the whole text is never in this
     * module's memory (which never shrinks). Then `snapshotEnd()`.
     * @param {number} len
     */
    snapshotPiece(len) {
        wasm.engine_snapshotPiece(this.__wbg_ptr, len);
    }
    /**
     * How many snapshots have been loaded.
     * @returns {number}
     */
    snapshotsLoaded() {
        const ret = wasm.engine_snapshotsLoaded(this.__wbg_ptr);
        return ret;
    }
    /**
     * @returns {string}
     */
    state() {
        let deferred1_0;
        let deferred1_1;
        try {
            const ret = wasm.engine_state(this.__wbg_ptr);
            deferred1_0 = ret[0];
            deferred1_1 = ret[1];
            return getStringFromWasm0(ret[0], ret[1]);
        } finally {
            wasm.__wbindgen_free(deferred1_0, deferred1_1, 1);
        }
    }
    /**
     * A `task:session_status` frame the caller parsed itself, written into
     * the inbox (`len` bytes of UTF-8), with where its five strings are in
     * it (byte spans, end exclusive; `notes_start` 2^32-1 for none): the
     * same input as `frameIn()`/`messageIn()` of it (`conn` -1 for the caller's
     * own transport) without a parse. `SEND_TEXT` if the parts do not make
     * a valid event (`StatusRef::from_parts`, tested natively).
     * @param {number} now
     * @param {number} conn
     * @param {number} seq
     * @param {number} version
     * @param {number} len
     * @param {number} task_start
     * @param {number} task_end
     * @param {number} session_start
     * @param {number} session_end
     * @param {number} status_start
     * @param {number} status_end
     * @param {number} notes_start
     * @param {number} notes_end
     * @param {number} at_start
     * @param {number} at_end
     * @returns {number}
     */
    statusIn(now, conn, seq, version, len, task_start, task_end, session_start, session_end, status_start, status_end, notes_start, notes_end, at_start, at_end) {
        const ret = wasm.engine_statusIn(this.__wbg_ptr, now, conn, seq, version, len, task_start, task_end, session_start, session_end, status_start, status_end, notes_start, notes_end, at_start, at_end);
        return ret >>> 0;
    }
    /**
     * Ids whose visible copy changed since the last call: tasks, a tab,
     * sessions, each list one id per line (ids hold none of these
     * characters); or `*`: every one may have (a snapshot was loaded).
     * @returns {string}
     */
    takeChanges() {
        let deferred1_0;
        let deferred1_1;
        try {
            const ret = wasm.engine_takeChanges(this.__wbg_ptr);
            deferred1_0 = ret[0];
            deferred1_1 = ret[1];
            return getStringFromWasm0(ret[0], ret[1]);
        } finally {
            wasm.__wbindgen_free(deferred1_0, deferred1_1, 1);
        }
    }
    /**
     * How many tasks the server's copy holds.
     * @returns {number}
     */
    taskCount() {
        const ret = wasm.engine_taskCount(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * Ids of all tasks in list order, one per line, or nothing if they are
     * the ones this returned last (objects come from `task()`, cached by
     * the caller); after it, `idsAppended()` says whether the ids are only
     * the new ones, to append to the list before.
     * @returns {string | undefined}
     */
    taskIds() {
        const ret = wasm.engine_taskIds(this.__wbg_ptr);
        let v1;
        if (ret[0] !== 0) {
            v1 = getStringFromWasm0(ret[0], ret[1]);
            wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        }
        return v1;
    }
    /**
     * One task as the user sees it, as JSON.
     * @param {string} id
     * @returns {string | undefined}
     */
    task(id) {
        const ptr0 = passStringToWasm0(id, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.engine_task(this.__wbg_ptr, ptr0, len0);
        let v2;
        if (ret[0] !== 0) {
            v2 = getStringFromWasm0(ret[0], ret[1]);
            wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        }
        return v2;
    }
    /**
     * @param {number} now
     * @returns {number}
     */
    tick(now) {
        const ret = wasm.engine_tick(this.__wbg_ptr, now);
        return ret >>> 0;
    }
    /**
     * @param {number} now
     * @param {boolean} visible
     * @returns {number}
     */
    visible(now, visible) {
        const ret = wasm.engine_visible(this.__wbg_ptr, now, visible);
        return ret >>> 0;
    }
    /**
     * A write (`{"op": "createTask", …}` as JSON); its id, or why it is
     * malformed. Call `pending()` after it.
     * @param {number} now
     * @param {string} cmd
     * @returns {number}
     */
    write(now, cmd) {
        const val2 = +now;
        const ptr0 = passStringToWasm0(cmd, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.engine_write(this.__wbg_ptr, val2, ptr0, len0);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return ret[0];
    }
}
if (Symbol.dispose) Engine.prototype[Symbol.dispose] = Engine.prototype.free;

/**
 * The statuses a user may move a task to from `from` (the server's rules),
 * one per line. (One string: a list of them takes wasm-bindgen's glue for
 * arrays, in the wasm and in JS.)
 * @param {string} from
 * @returns {string}
 */
export function allowedTaskTransitions(from) {
    let deferred2_0;
    let deferred2_1;
    try {
        const ptr0 = passStringToWasm0(from, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.allowedTaskTransitions(ptr0, len0);
        deferred2_0 = ret[0];
        deferred2_1 = ret[1];
        return getStringFromWasm0(ret[0], ret[1]);
    } finally {
        wasm.__wbindgen_free(deferred2_0, deferred2_1, 1);
    }
}

/**
 * The event types the stream sends, one per line.
 * @returns {string}
 */
export function eventTypes() {
    let deferred1_0;
    let deferred1_1;
    try {
        const ret = wasm.eventTypes();
        deferred1_0 = ret[0];
        deferred1_1 = ret[1];
        return getStringFromWasm0(ret[0], ret[1]);
    } finally {
        wasm.__wbindgen_free(deferred1_0, deferred1_1, 1);
    }
}
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg___wbindgen_throw_4c88d8bf264fd984: function(arg0, arg1) {
            throw new Error(getStringFromWasm0(arg0, arg1));
        },
        __wbindgen_generic_0000000000000001: function(arg0, arg1) {
            // Cast intrinsic for `Ref(String) -> Externref`.
            const ret = getStringFromWasm0(arg0, arg1);
            return ret;
        },
        __wbindgen_init_externref_table: function() {
            const table = wasm.__wbindgen_externrefs;
            table.set(0, undefined);
            table.set(1024, undefined);
            table.set(1025, null);
            table.set(1026, true);
            table.set(1027, false);
        },
    };
    return {
        __proto__: null,
        "./tasksync_bg.js": import0,
    };
}

const EngineFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_engine_free(ptr, 1));

function getStringFromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    return decodeText(getUint8ArrayMemory0().subarray(ptr, ptr + len));
}

let cachedUint8ArrayMemory0 = null;
function getUint8ArrayMemory0() {
    if (cachedUint8ArrayMemory0 === null || cachedUint8ArrayMemory0.byteLength === 0) {
        cachedUint8ArrayMemory0 = new Uint8Array(wasm.memory.buffer);
    }
    return cachedUint8ArrayMemory0;
}

function passStringToWasm0(arg, malloc, realloc) {
    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }

    let len = arg.length;
    let ptr = malloc(len, 1) >>> 0;

    const mem = getUint8ArrayMemory0();

    let offset = 0;

    for (; offset < len; offset++) {
        const code = arg.charCodeAt(offset);
        if (code > 0x7F) break;
        mem[ptr + offset] = code;
    }
    if (offset !== len) {
        if (offset !== 0) {
            arg = arg.slice(offset);
        }
        ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
        const view = getUint8ArrayMemory0().subarray(ptr + offset, ptr + len);
        const ret = cachedTextEncoder.encodeInto(arg, view);

        offset += ret.written;
        ptr = realloc(ptr, len, offset, 1) >>> 0;
    }

    WASM_VECTOR_LEN = offset;
    return ptr;
}

function takeFromExternrefTable0(idx) {
    const value = wasm.__wbindgen_externrefs.get(idx);
    wasm.__externref_table_dealloc(idx);
    return value;
}

let cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
cachedTextDecoder.decode();
const MAX_SAFARI_DECODE_BYTES = 2146435072;
let numBytesDecoded = 0;
function decodeText(bytes) {
    numBytesDecoded += bytes.length;
    if (numBytesDecoded >= MAX_SAFARI_DECODE_BYTES) {
        cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
        cachedTextDecoder.decode();
        numBytesDecoded = bytes.length;
    }
    return cachedTextDecoder.decode(bytes);
}

const cachedTextEncoder = new TextEncoder();

if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}

let WASM_VECTOR_LEN = 0;

let wasmModule, wasmInstance, wasm;
function __wbg_finalize_init(instance, module) {
    wasmInstance = instance;
    wasm = instance.exports;
    wasmModule = module;
    cachedUint8ArrayMemory0 = null;
    wasm.__wbindgen_start();
    return wasm;
}

async function __wbg_load(module, imports) {
    if (typeof Response === 'function' && module instanceof Response) {
        if (!module.ok) {
            throw new Error(`failed to fetch Wasm: ${module.status} ${module.statusText} fetching '${module.url}'`);
        }

        if (typeof WebAssembly.instantiateStreaming === 'function') {
            try {
                return await WebAssembly.instantiateStreaming(module, imports);
            } catch (e) {
                const validResponse = expectedResponseType(module.type);

                if (validResponse && module.headers.get('Content-Type') !== 'application/wasm') {
                    console.warn("`WebAssembly.instantiateStreaming` failed because your server does not serve Wasm with `application/wasm` MIME type. Falling back to `WebAssembly.instantiate` which is slower. Original error:\n", e);

                } else { throw e; }
            }
        }

        const bytes = await module.arrayBuffer();
        return await WebAssembly.instantiate(bytes, imports);
    } else {
        const instance = await WebAssembly.instantiate(module, imports);

        if (instance instanceof WebAssembly.Instance) {
            return { instance, module };
        } else {
            return instance;
        }
    }

    function expectedResponseType(type) {
        switch (type) {
            case 'basic': case 'cors': case 'default': return true;
        }
        return false;
    }
}

function initSync(module) {
    if (wasm !== undefined) return wasm;


    if (module !== undefined) {
        if (Object.getPrototypeOf(module) === Object.prototype) {
            ({module} = module)
        } else {
            console.warn('using deprecated parameters for `initSync()`; pass a single object instead')
        }
    }

    const imports = __wbg_get_imports();
    if (!(module instanceof WebAssembly.Module)) {
        module = new WebAssembly.Module(module);
    }
    const instance = new WebAssembly.Instance(module, imports);
    return __wbg_finalize_init(instance, module);
}

let __wbg_init_promise;
async function __wbg_init(module_or_path) {
    if (wasm !== undefined) return wasm;
    if (__wbg_init_promise === undefined) {
        __wbg_init_promise = __wbg_init_once(module_or_path);
        __wbg_init_promise.catch(() => { __wbg_init_promise = undefined; });
    }
    return __wbg_init_promise;
}

async function __wbg_init_once(module_or_path) {

    if (module_or_path !== undefined) {
        if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
            ({module_or_path} = module_or_path)
        } else {
            console.warn('using deprecated parameters for the initialization function; pass a single object instead')
        }
    }


    const imports = __wbg_get_imports();

    if (typeof module_or_path === 'string' || (typeof Request === 'function' && module_or_path instanceof Request) || (typeof URL === 'function' && module_or_path instanceof URL)) {
        module_or_path = fetch(module_or_path);
    }

    const { instance, module } = await __wbg_load(await module_or_path, imports);

    return __wbg_finalize_init(instance, module);
}

export { initSync, __wbg_init as default };
