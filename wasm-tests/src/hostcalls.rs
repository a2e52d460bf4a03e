//! The `env::proxy_*` host functions of proxy-wasm ABI 0.2.1. Every import the Rust SDK
//! declares is linked. Functions the filter has no use for (gRPC, foreign functions) answer
//! with an error status and are noted, never trap. A trap only comes from the guest itself
//! (its allocator failing while the host hands it data).

use crate::abi::{self, BufferType, LogLevel, MapType, MetricKind, Status, StreamType};
use crate::headers::HeaderMap;
use crate::state::{CasError, HostState, HttpCall, LocalResponse, Metric};
use std::time::Duration;
use wasmtime::{Caller, Linker, Memory};

/// Why a host call did not succeed: a status for the guest, or a trap raised by the guest.
pub(crate) enum Fault {
    Status(Status),
    Trap(wasmtime::Error),
}

impl From<Status> for Fault {
    fn from(status: Status) -> Self {
        Fault::Status(status)
    }
}

type Call<T = ()> = Result<T, Fault>;
type Ctx<'a> = Caller<'a, HostState>;

fn answer(result: Call) -> wasmtime::Result<i32> {
    match result {
        Ok(()) => Ok(Status::Ok.code()),
        Err(Fault::Status(status)) => Ok(status.code()),
        Err(Fault::Trap(error)) => Err(error),
    }
}

fn addr(value: i32) -> usize {
    value as u32 as usize
}

fn memory(caller: &Ctx<'_>) -> Call<Memory> {
    caller
        .data()
        .guest
        .as_ref()
        .map(|g| g.memory)
        .ok_or(Fault::Status(Status::InternalFailure))
}

fn read_bytes(caller: &Ctx<'_>, ptr: i32, len: i32) -> Call<Vec<u8>> {
    let memory = memory(caller)?;
    let start = addr(ptr);
    let end = start
        .checked_add(addr(len))
        .ok_or(Status::InvalidMemoryAccess)?;
    let bytes = memory
        .data(caller)
        .get(start..end)
        .ok_or(Status::InvalidMemoryAccess)?;
    Ok(bytes.to_vec())
}

fn read_string(caller: &Ctx<'_>, ptr: i32, len: i32) -> Call<String> {
    Ok(String::from_utf8_lossy(&read_bytes(caller, ptr, len)?).into_owned())
}

fn write_at(caller: &mut Ctx<'_>, ptr: i32, data: &[u8]) -> Call {
    let memory = memory(caller)?;
    let start = addr(ptr);
    let end = start
        .checked_add(data.len())
        .ok_or(Status::InvalidMemoryAccess)?;
    let target = memory
        .data_mut(caller)
        .get_mut(start..end)
        .ok_or(Status::InvalidMemoryAccess)?;
    target.copy_from_slice(data);
    Ok(())
}

fn write_u32(caller: &mut Ctx<'_>, ptr: i32, value: u32) -> Call {
    write_at(caller, ptr, &value.to_le_bytes())
}

fn write_u64(caller: &mut Ctx<'_>, ptr: i32, value: u64) -> Call {
    write_at(caller, ptr, &value.to_le_bytes())
}

/// Copies `data` into memory the guest allocates (`proxy_on_memory_allocate`) and writes the
/// pointer and size into the guest's return slots; the guest owns and frees that memory.
/// Empty data is returned as a null pointer.
fn return_bytes(caller: &mut Ctx<'_>, data: &[u8], ptr_out: i32, size_out: i32) -> Call {
    if data.is_empty() {
        write_u32(caller, ptr_out, 0)?;
        return write_u32(caller, size_out, 0);
    }
    let size = i32::try_from(data.len()).map_err(|_| Status::BadArgument)?;
    let allocate = caller
        .data()
        .guest
        .as_ref()
        .map(|g| g.allocate.clone())
        .ok_or(Status::InternalFailure)?;
    let ptr = allocate.call(&mut *caller, size).map_err(Fault::Trap)?;
    if ptr == 0 {
        return Err(Status::InternalFailure.into());
    }
    write_at(caller, ptr, data)?;
    write_u32(caller, ptr_out, ptr as u32)?;
    write_u32(caller, size_out, abi::len_u32(data.len()))
}

fn map_type(code: i32) -> Call<MapType> {
    MapType::from_code(code).ok_or(Fault::Status(Status::BadArgument))
}

fn header_map(state: &HostState, map: MapType) -> Option<&HeaderMap> {
    let stream = state.streams.get(&state.effective_context);
    match map {
        MapType::RequestHeaders => stream.map(|s| &s.request.headers),
        MapType::RequestTrailers => stream.map(|s| &s.request.trailers),
        MapType::ResponseHeaders => stream.and_then(|s| s.response.as_ref()).map(|d| &d.headers),
        MapType::ResponseTrailers => stream
            .and_then(|s| s.response.as_ref())
            .map(|d| &d.trailers),
        MapType::HttpCallResponseHeaders => state.http_call_response.as_ref().map(|r| &r.headers),
        MapType::HttpCallResponseTrailers => state.http_call_response.as_ref().map(|r| &r.trailers),
        MapType::GrpcInitialMetadata | MapType::GrpcTrailingMetadata => None,
    }
}

fn header_map_mut(state: &mut HostState, map: MapType) -> Option<&mut HeaderMap> {
    let stream = state.streams.get_mut(&state.effective_context)?;
    match map {
        MapType::RequestHeaders => Some(&mut stream.request.headers),
        MapType::RequestTrailers => Some(&mut stream.request.trailers),
        MapType::ResponseHeaders => stream.response.as_mut().map(|d| &mut d.headers),
        MapType::ResponseTrailers => stream.response.as_mut().map(|d| &mut d.trailers),
        _ => None,
    }
}

fn buffer(state: &HostState, kind: BufferType) -> Option<&Vec<u8>> {
    let stream = state.streams.get(&state.effective_context);
    match kind {
        BufferType::RequestBody => stream.map(|s| &s.request.body),
        BufferType::ResponseBody => stream.and_then(|s| s.response.as_ref()).map(|d| &d.body),
        BufferType::HttpCallResponseBody => state.http_call_response.as_ref().map(|r| &r.body),
        BufferType::VmConfiguration => Some(&state.vm_configuration),
        BufferType::PluginConfiguration => Some(&state.plugin_configuration),
        _ => None,
    }
}

fn parse_map(bytes: &[u8]) -> Call<HeaderMap> {
    let pairs = abi::deserialize_map(bytes).ok_or(Status::ParseFailure)?;
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.add(
            &String::from_utf8_lossy(&name),
            &String::from_utf8_lossy(&value),
        );
    }
    Ok(map)
}

fn log(caller: &mut Ctx<'_>, level: i32, ptr: i32, len: i32) -> Call {
    let level = LogLevel::from_code(level).ok_or(Status::BadArgument)?;
    let message = read_string(caller, ptr, len)?;
    let state = caller.data_mut();
    if level >= state.log_level {
        if state.echo_logs {
            eprintln!("[wasm {level}] {message}");
        }
        state.logs.push(crate::state::LogEntry { level, message });
    }
    Ok(())
}

fn get_header_map_pairs(caller: &mut Ctx<'_>, map: i32, ptr_out: i32, size_out: i32) -> Call {
    let map = map_type(map)?;
    let serialized = match header_map(caller.data(), map) {
        Some(headers) => abi::serialize_map(headers.pairs()),
        None => abi::serialize_map::<&str, &str>(&[]),
    };
    return_bytes(caller, &serialized, ptr_out, size_out)
}

fn set_header_map_pairs(caller: &mut Ctx<'_>, map: i32, ptr: i32, len: i32) -> Call {
    let map = map_type(map)?;
    let new_map = parse_map(&read_bytes(caller, ptr, len)?)?;
    let target = header_map_mut(caller.data_mut(), map).ok_or(Status::BadArgument)?;
    *target = new_map;
    Ok(())
}

fn get_header_map_value(
    caller: &mut Ctx<'_>,
    map: i32,
    key_ptr: i32,
    key_len: i32,
    ptr_out: i32,
    size_out: i32,
) -> Call {
    let map = map_type(map)?;
    let key = read_string(caller, key_ptr, key_len)?;
    let value = header_map(caller.data(), map)
        .and_then(|headers| headers.get(&key))
        .map(|v| v.as_bytes().to_vec())
        .ok_or(Status::NotFound)?;
    return_bytes(caller, &value, ptr_out, size_out)
}

enum MapEdit {
    Add,
    Replace,
}

fn edit_header_map_value(
    caller: &mut Ctx<'_>,
    edit: MapEdit,
    map: i32,
    key: (i32, i32),
    value: (i32, i32),
) -> Call {
    let map = map_type(map)?;
    let key = read_string(caller, key.0, key.1)?;
    let value = read_string(caller, value.0, value.1)?;
    let target = header_map_mut(caller.data_mut(), map).ok_or(Status::BadArgument)?;
    match edit {
        MapEdit::Add => target.add(&key, &value),
        MapEdit::Replace => target.replace(&key, &value),
    }
    Ok(())
}

fn remove_header_map_value(caller: &mut Ctx<'_>, map: i32, key_ptr: i32, key_len: i32) -> Call {
    let map = map_type(map)?;
    let key = read_string(caller, key_ptr, key_len)?;
    let target = header_map_mut(caller.data_mut(), map).ok_or(Status::BadArgument)?;
    target.remove(&key);
    Ok(())
}

fn get_buffer_bytes(
    caller: &mut Ctx<'_>,
    kind: i32,
    start: i32,
    max_size: i32,
    ptr_out: i32,
    size_out: i32,
) -> Call {
    let kind = BufferType::from_code(kind).ok_or(Status::BadArgument)?;
    let data = buffer(caller.data(), kind).ok_or(Status::NotFound)?;
    let start = addr(start).min(data.len());
    let end = start.saturating_add(addr(max_size)).min(data.len());
    let slice = data.get(start..end).unwrap_or_default().to_vec();
    return_bytes(caller, &slice, ptr_out, size_out)
}

fn set_buffer_bytes(
    caller: &mut Ctx<'_>,
    kind: i32,
    start: i32,
    size: i32,
    ptr: i32,
    len: i32,
) -> Call {
    let kind = BufferType::from_code(kind).ok_or(Status::BadArgument)?;
    let data = read_bytes(caller, ptr, len)?;
    let state = caller.data_mut();
    let stream = state.current_stream().ok_or(Status::NotFound)?;
    let body = match kind {
        BufferType::RequestBody => &mut stream.request.body,
        BufferType::ResponseBody => &mut stream.response.as_mut().ok_or(Status::NotFound)?.body,
        _ => return Err(Status::BadArgument.into()),
    };
    let from = addr(start).min(body.len());
    let to = from.saturating_add(addr(size)).min(body.len());
    body.splice(from..to, data);
    Ok(())
}

fn get_property(
    caller: &mut Ctx<'_>,
    path_ptr: i32,
    path_len: i32,
    ptr_out: i32,
    size_out: i32,
) -> Call {
    let path = abi::deserialize_property_path(&read_bytes(caller, path_ptr, path_len)?);
    let value = caller
        .data()
        .properties
        .get(&path)
        .cloned()
        .ok_or(Status::NotFound)?;
    return_bytes(caller, &value, ptr_out, size_out)
}

fn set_property(caller: &mut Ctx<'_>, path_ptr: i32, path_len: i32, ptr: i32, len: i32) -> Call {
    let path = abi::deserialize_property_path(&read_bytes(caller, path_ptr, path_len)?);
    let value = read_bytes(caller, ptr, len)?;
    caller.data_mut().properties.insert(path, value);
    Ok(())
}

fn get_shared_data(
    caller: &mut Ctx<'_>,
    key: (i32, i32),
    ptr_out: i32,
    size_out: i32,
    cas_out: i32,
) -> Call {
    let key = read_string(caller, key.0, key.1)?;
    let (value, cas) = caller
        .data()
        .shared_data
        .get(&key)
        .ok_or(Status::NotFound)?;
    return_bytes(caller, &value, ptr_out, size_out)?;
    write_u32(caller, cas_out, cas)
}

fn set_shared_data(caller: &mut Ctx<'_>, key: (i32, i32), value: (i32, i32), cas: i32) -> Call {
    let key = read_string(caller, key.0, key.1)?;
    let value = read_bytes(caller, value.0, value.1)?;
    caller
        .data()
        .shared_data
        .set(&key, value, cas as u32)
        .map_err(|CasError::Mismatch| Fault::Status(Status::CasMismatch))
}

fn register_shared_queue(caller: &mut Ctx<'_>, name_ptr: i32, name_len: i32, id_out: i32) -> Call {
    let name = read_string(caller, name_ptr, name_len)?;
    let queues = &mut caller.data_mut().queues;
    let next = abi::len_u32(queues.by_name.len()).saturating_add(1);
    let id = *queues.by_name.entry(name).or_insert(next);
    queues.queues.entry(id).or_default();
    write_u32(caller, id_out, id)
}

fn resolve_shared_queue(caller: &mut Ctx<'_>, name_ptr: i32, name_len: i32, id_out: i32) -> Call {
    let name = read_string(caller, name_ptr, name_len)?;
    let id = *caller
        .data()
        .queues
        .by_name
        .get(&name)
        .ok_or(Status::NotFound)?;
    write_u32(caller, id_out, id)
}

fn enqueue_shared_queue(caller: &mut Ctx<'_>, id: i32, ptr: i32, len: i32) -> Call {
    let value = read_bytes(caller, ptr, len)?;
    let queue = caller
        .data_mut()
        .queues
        .queues
        .get_mut(&(id as u32))
        .ok_or(Status::NotFound)?;
    queue.push_back(value);
    Ok(())
}

fn dequeue_shared_queue(caller: &mut Ctx<'_>, id: i32, ptr_out: i32, size_out: i32) -> Call {
    let queue = caller
        .data_mut()
        .queues
        .queues
        .get_mut(&(id as u32))
        .ok_or(Status::NotFound)?;
    let value = queue.pop_front().ok_or(Status::Empty)?;
    return_bytes(caller, &value, ptr_out, size_out)
}

fn continue_stream(caller: &mut Ctx<'_>, kind: i32) -> Call {
    let kind = StreamType::from_code(kind).ok_or(Status::BadArgument)?;
    let stream = caller.data_mut().current_stream().ok_or(Status::NotFound)?;
    match kind {
        StreamType::Request => stream.request.continued = true,
        StreamType::Response => stream.response.as_mut().ok_or(Status::NotFound)?.continued = true,
        StreamType::Downstream | StreamType::Upstream => return Err(Status::Unimplemented.into()),
    }
    Ok(())
}

fn close_stream(caller: &mut Ctx<'_>, kind: i32) -> Call {
    let kind = StreamType::from_code(kind).ok_or(Status::BadArgument)?;
    let stream = caller.data_mut().current_stream().ok_or(Status::NotFound)?;
    match kind {
        StreamType::Request | StreamType::Response => stream.reset = true,
        StreamType::Downstream | StreamType::Upstream => return Err(Status::Unimplemented.into()),
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn send_local_response(
    caller: &mut Ctx<'_>,
    status: i32,
    details: (i32, i32),
    body: (i32, i32),
    headers: (i32, i32),
    grpc_status: i32,
) -> Call {
    let details = read_string(caller, details.0, details.1)?;
    let body = read_bytes(caller, body.0, body.1)?;
    let headers = parse_map(&read_bytes(caller, headers.0, headers.1)?)?;
    let stream = caller.data_mut().current_stream().ok_or(Status::NotFound)?;
    if stream.local_response.is_none() {
        stream.local_response = Some(LocalResponse {
            status: status as u32,
            details,
            headers,
            body,
            grpc_status,
        });
    }
    Ok(())
}

struct CallRequest {
    upstream: (i32, i32),
    headers: (i32, i32),
    body: (i32, i32),
    trailers: (i32, i32),
    timeout_ms: i32,
    token_out: i32,
}

fn http_call(caller: &mut Ctx<'_>, call: CallRequest) -> Call {
    let upstream = read_string(caller, call.upstream.0, call.upstream.1)?;
    let headers = parse_map(&read_bytes(caller, call.headers.0, call.headers.1)?)?;
    let body = read_bytes(caller, call.body.0, call.body.1)?;
    let trailers = parse_map(&read_bytes(caller, call.trailers.0, call.trailers.1)?)?;
    let state = caller.data_mut();
    if state.unavailable_clusters.contains(&upstream) {
        state.note(format!(
            "proxy_http_call to unknown cluster `{upstream}` refused"
        ));
        return Err(Status::BadArgument.into());
    }
    // Envoy refuses a call without these pseudo-headers.
    for required in [":method", ":path", ":authority"] {
        if !headers.contains(required) {
            state.note(format!(
                "proxy_http_call to `{upstream}` refused: no `{required}` header"
            ));
            return Err(Status::BadArgument.into());
        }
    }
    let timeout = Duration::from_millis(u64::from(call.timeout_ms as u32));
    let deadline_nanos = if timeout.is_zero() {
        u64::MAX
    } else {
        state
            .clock
            .nanos()
            .saturating_add(crate::state::duration_nanos(timeout))
    };
    state.last_token = state.last_token.wrapping_add(1).max(1);
    let token = state.last_token;
    let context_id = state.effective_context;
    state.http_calls.insert(
        token,
        HttpCall {
            token,
            context_id,
            upstream,
            headers,
            body,
            trailers,
            timeout,
            deadline_nanos,
        },
    );
    write_u32(caller, call.token_out, token)
}

fn set_tick_period(caller: &mut Ctx<'_>, period_ms: i32) -> Call {
    let state = caller.data_mut();
    let period_ms = period_ms as u32;
    state.tick_period_ms = period_ms;
    state.next_tick_nanos = if period_ms == 0 {
        None
    } else {
        Some(
            state
                .clock
                .nanos()
                .saturating_add(u64::from(period_ms) * 1_000_000),
        )
    };
    Ok(())
}

fn set_effective_context(caller: &mut Ctx<'_>, context_id: i32) -> Call {
    let context_id = context_id as u32;
    let state = caller.data_mut();
    if context_id != state.root_context_id && !state.streams.contains_key(&context_id) {
        return Err(Status::BadArgument.into());
    }
    state.effective_context = context_id;
    Ok(())
}

fn define_metric(
    caller: &mut Ctx<'_>,
    kind: i32,
    name_ptr: i32,
    name_len: i32,
    id_out: i32,
) -> Call {
    let kind = MetricKind::from_code(kind).ok_or(Status::BadArgument)?;
    let name = read_string(caller, name_ptr, name_len)?;
    let metrics = &mut caller.data_mut().metrics;
    let id = match metrics.by_name.get(&name) {
        Some(id) => *id,
        None => {
            metrics.entries.push(Metric {
                name: name.clone(),
                kind,
                value: 0,
                samples: Vec::new(),
            });
            let id = abi::len_u32(metrics.entries.len());
            metrics.by_name.insert(name, id);
            id
        }
    };
    write_u32(caller, id_out, id)
}

fn get_metric(caller: &mut Ctx<'_>, id: i32, value_out: i32) -> Call {
    let metric = caller
        .data_mut()
        .metrics
        .get_mut(id as u32)
        .ok_or(Status::NotFound)?;
    if metric.kind == MetricKind::Histogram {
        return Err(Status::BadArgument.into());
    }
    let value = metric.value;
    write_u64(caller, value_out, value)
}

fn record_metric(caller: &mut Ctx<'_>, id: i32, value: i64) -> Call {
    let metric = caller
        .data_mut()
        .metrics
        .get_mut(id as u32)
        .ok_or(Status::NotFound)?;
    let value = value as u64;
    match metric.kind {
        MetricKind::Counter => metric.value = metric.value.saturating_add(value),
        MetricKind::Gauge => metric.value = value,
        MetricKind::Histogram => {
            metric.samples.push(value);
            metric.value = abi::len_u32(metric.samples.len()).into();
        }
    }
    Ok(())
}

fn increment_metric(caller: &mut Ctx<'_>, id: i32, offset: i64) -> Call {
    let metric = caller
        .data_mut()
        .metrics
        .get_mut(id as u32)
        .ok_or(Status::NotFound)?;
    match metric.kind {
        MetricKind::Counter if offset >= 0 => {
            metric.value = metric.value.saturating_add(offset as u64)
        }
        MetricKind::Gauge => metric.value = metric.value.wrapping_add_signed(offset),
        MetricKind::Counter | MetricKind::Histogram => return Err(Status::BadArgument.into()),
    }
    Ok(())
}

/// Envoy's `verify_signature` (see `warden_testkit::host_crypto`), when the options offer it,
/// and `clear_route_cache` (counted: the route is picked again); other foreign functions do
/// not exist here.
fn call_foreign_function(
    caller: &mut Ctx<'_>,
    name: (i32, i32),
    arguments: (i32, i32),
    out: (i32, i32),
) -> Call {
    let name = read_string(caller, name.0, name.1)?;
    if name == "clear_route_cache" {
        caller.data_mut().route_cache_clears += 1;
        return Ok(());
    }
    if name != "verify_signature" || !caller.data().verify_signature {
        return unsupported(caller, "proxy_call_foreign_function", Status::NotFound);
    }
    caller.data_mut().foreign_calls += 1;
    let arguments = read_bytes(caller, arguments.0, arguments.1)?;
    match warden_testkit::host_crypto::verify_signature(&arguments) {
        Ok(result) => return_bytes(caller, &result, out.0, out.1),
        Err(_) => Err(Status::BadArgument.into()),
    }
}

fn unsupported(caller: &mut Ctx<'_>, name: &str, status: Status) -> Call {
    caller.data_mut().note_unsupported(name);
    Err(status.into())
}

/// Links every `env::proxy_*` function of ABI 0.2.1.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut c: Ctx<'_>, level: i32, ptr: i32, len: i32| {
            c.data_mut().count_call("proxy_log");
            answer(log(&mut c, level, ptr, len))
        },
    )?;
    linker.func_wrap("env", "proxy_get_log_level", |mut c: Ctx<'_>, out: i32| {
        c.data_mut().count_call("proxy_get_log_level");
        {
            let level = c.data().log_level.code() as u32;
            answer(write_u32(&mut c, out, level))
        }
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: Ctx<'_>, out: i32| {
            c.data_mut()
                .count_call("proxy_get_current_time_nanoseconds");
            {
                let now = c.data().clock.nanos();
                answer(write_u64(&mut c, out, now))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: Ctx<'_>, period: i32| {
            c.data_mut()
                .count_call("proxy_set_tick_period_milliseconds");
            answer(set_tick_period(&mut c, period))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: Ctx<'_>, kind: i32, start: i32, max: i32, ptr_out: i32, size_out: i32| {
            c.data_mut().count_call("proxy_get_buffer_bytes");
            {
                answer(get_buffer_bytes(
                    &mut c, kind, start, max, ptr_out, size_out,
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut c: Ctx<'_>, kind: i32, start: i32, size: i32, ptr: i32, len: i32| {
            c.data_mut().count_call("proxy_set_buffer_bytes");
            {
                answer(set_buffer_bytes(&mut c, kind, start, size, ptr, len))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: Ctx<'_>, map: i32, ptr_out: i32, size_out: i32| {
            c.data_mut().count_call("proxy_get_header_map_pairs");
            {
                answer(get_header_map_pairs(&mut c, map, ptr_out, size_out))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut c: Ctx<'_>, map: i32, ptr: i32, len: i32| {
            c.data_mut().count_call("proxy_set_header_map_pairs");
            {
                answer(set_header_map_pairs(&mut c, map, ptr, len))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: Ctx<'_>, map: i32, key_ptr: i32, key_len: i32, ptr_out: i32, size_out: i32| {
            c.data_mut().count_call("proxy_get_header_map_value");
            {
                answer(get_header_map_value(
                    &mut c, map, key_ptr, key_len, ptr_out, size_out,
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: Ctx<'_>, map: i32, key_ptr: i32, key_len: i32| {
            c.data_mut().count_call("proxy_remove_header_map_value");
            {
                answer(remove_header_map_value(&mut c, map, key_ptr, key_len))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: Ctx<'_>, map: i32, key_ptr: i32, key_len: i32, ptr: i32, len: i32| {
            c.data_mut().count_call("proxy_replace_header_map_value");
            {
                answer(edit_header_map_value(
                    &mut c,
                    MapEdit::Replace,
                    map,
                    (key_ptr, key_len),
                    (ptr, len),
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: Ctx<'_>, map: i32, key_ptr: i32, key_len: i32, ptr: i32, len: i32| {
            c.data_mut().count_call("proxy_add_header_map_value");
            {
                answer(edit_header_map_value(
                    &mut c,
                    MapEdit::Add,
                    map,
                    (key_ptr, key_len),
                    (ptr, len),
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: Ctx<'_>, path_ptr: i32, path_len: i32, ptr_out: i32, size_out: i32| {
            c.data_mut().count_call("proxy_get_property");
            {
                answer(get_property(&mut c, path_ptr, path_len, ptr_out, size_out))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut c: Ctx<'_>, path_ptr: i32, path_len: i32, ptr: i32, len: i32| {
            c.data_mut().count_call("proxy_set_property");
            {
                answer(set_property(&mut c, path_ptr, path_len, ptr, len))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: Ctx<'_>, key_ptr: i32, key_len: i32, ptr_out: i32, size_out: i32, cas_out: i32| {
            c.data_mut().count_call("proxy_get_shared_data");
            {
                answer(get_shared_data(
                    &mut c,
                    (key_ptr, key_len),
                    ptr_out,
                    size_out,
                    cas_out,
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: Ctx<'_>, key_ptr: i32, key_len: i32, ptr: i32, len: i32, cas: i32| {
            c.data_mut().count_call("proxy_set_shared_data");
            {
                answer(set_shared_data(&mut c, (key_ptr, key_len), (ptr, len), cas))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut c: Ctx<'_>, name_ptr: i32, name_len: i32, id_out: i32| {
            c.data_mut().count_call("proxy_register_shared_queue");
            {
                answer(register_shared_queue(&mut c, name_ptr, name_len, id_out))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut c: Ctx<'_>, _vm_ptr: i32, _vm_len: i32, name_ptr: i32, name_len: i32, id_out: i32| {
            c.data_mut().count_call("proxy_resolve_shared_queue");
            {
                answer(resolve_shared_queue(&mut c, name_ptr, name_len, id_out))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut c: Ctx<'_>, id: i32, ptr_out: i32, size_out: i32| {
            c.data_mut().count_call("proxy_dequeue_shared_queue");
            {
                answer(dequeue_shared_queue(&mut c, id, ptr_out, size_out))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |mut c: Ctx<'_>, id: i32, ptr: i32, len: i32| {
            c.data_mut().count_call("proxy_enqueue_shared_queue");
            {
                answer(enqueue_shared_queue(&mut c, id, ptr, len))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_continue_stream",
        |mut c: Ctx<'_>, kind: i32| {
            c.data_mut().count_call("proxy_continue_stream");
            answer(continue_stream(&mut c, kind))
        },
    )?;
    linker.func_wrap("env", "proxy_close_stream", |mut c: Ctx<'_>, kind: i32| {
        c.data_mut().count_call("proxy_close_stream");
        {
            answer(close_stream(&mut c, kind))
        }
    })?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: Ctx<'_>,
         status: i32,
         details_ptr: i32,
         details_len: i32,
         body_ptr: i32,
         body_len: i32,
         headers_ptr: i32,
         headers_len: i32,
         grpc_status: i32| {
            c.data_mut().count_call("proxy_send_local_response");
            {
                answer(send_local_response(
                    &mut c,
                    status,
                    (details_ptr, details_len),
                    (body_ptr, body_len),
                    (headers_ptr, headers_len),
                    grpc_status,
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: Ctx<'_>,
         upstream_ptr: i32,
         upstream_len: i32,
         headers_ptr: i32,
         headers_len: i32,
         body_ptr: i32,
         body_len: i32,
         trailers_ptr: i32,
         trailers_len: i32,
         timeout_ms: i32,
         token_out: i32| {
            c.data_mut().count_call("proxy_http_call");
            {
                answer(http_call(
                    &mut c,
                    CallRequest {
                        upstream: (upstream_ptr, upstream_len),
                        headers: (headers_ptr, headers_len),
                        body: (body_ptr, body_len),
                        trailers: (trailers_ptr, trailers_len),
                        timeout_ms,
                        token_out,
                    },
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_call",
        |mut c: Ctx<'_>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32| {
            c.data_mut().count_call("proxy_grpc_call");
            {
                answer(unsupported(
                    &mut c,
                    "proxy_grpc_call",
                    Status::Unimplemented,
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_stream",
        |mut c: Ctx<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| {
            c.data_mut().count_call("proxy_grpc_stream");
            {
                answer(unsupported(
                    &mut c,
                    "proxy_grpc_stream",
                    Status::Unimplemented,
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_send",
        |mut c: Ctx<'_>, _: i32, _: i32, _: i32, _: i32| {
            c.data_mut().count_call("proxy_grpc_send");
            {
                answer(unsupported(&mut c, "proxy_grpc_send", Status::NotFound))
            }
        },
    )?;
    linker.func_wrap("env", "proxy_grpc_cancel", |mut c: Ctx<'_>, _: i32| {
        c.data_mut().count_call("proxy_grpc_cancel");
        {
            answer(unsupported(&mut c, "proxy_grpc_cancel", Status::NotFound))
        }
    })?;
    linker.func_wrap("env", "proxy_grpc_close", |mut c: Ctx<'_>, _: i32| {
        c.data_mut().count_call("proxy_grpc_close");
        {
            answer(unsupported(&mut c, "proxy_grpc_close", Status::NotFound))
        }
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_status",
        |mut c: Ctx<'_>, _: i32, _: i32, _: i32| {
            c.data_mut().count_call("proxy_get_status");
            {
                answer(unsupported(
                    &mut c,
                    "proxy_get_status",
                    Status::Unimplemented,
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut c: Ctx<'_>, name_ptr: i32, name_len: i32, ptr: i32, len: i32, out: i32, size: i32| {
            c.data_mut().count_call("proxy_call_foreign_function");
            {
                answer(call_foreign_function(
                    &mut c,
                    (name_ptr, name_len),
                    (ptr, len),
                    (out, size),
                ))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut c: Ctx<'_>, id: i32| {
            c.data_mut().count_call("proxy_set_effective_context");
            answer(set_effective_context(&mut c, id))
        },
    )?;
    linker.func_wrap("env", "proxy_done", |mut c: Ctx<'_>| {
        c.data_mut().count_call("proxy_done");
        {
            c.data_mut().done_calls += 1;
            answer(Ok(()))
        }
    })?;
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: Ctx<'_>, kind: i32, name_ptr: i32, name_len: i32, id_out: i32| {
            c.data_mut().count_call("proxy_define_metric");
            {
                answer(define_metric(&mut c, kind, name_ptr, name_len, id_out))
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_metric",
        |mut c: Ctx<'_>, id: i32, out: i32| {
            c.data_mut().count_call("proxy_get_metric");
            answer(get_metric(&mut c, id, out))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_record_metric",
        |mut c: Ctx<'_>, id: i32, value: i64| {
            c.data_mut().count_call("proxy_record_metric");
            answer(record_metric(&mut c, id, value))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut c: Ctx<'_>, id: i32, offset: i64| {
            c.data_mut().count_call("proxy_increment_metric");
            answer(increment_metric(&mut c, id, offset))
        },
    )?;
    Ok(())
}
