//! A compiled plugin module and the linker with every host function, shared by any number of
//! hosts (compile once per test binary, instantiate per test).

use crate::error::HostError;
use crate::hostcalls;
use crate::state::HostState;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Config, Engine, ExternType, Linker, Module, Val, ValType};

/// How often the engine's epoch advances; callback time limits count in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(50);

/// WASI `ENOSYS`, answered by WASI functions nobody implements.
const WASI_ENOSYS: i32 = 52;

/// A compiled proxy-wasm module, ready to instantiate. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) engine: Engine,
    pub(crate) module: Module,
    pub(crate) linker: Arc<Linker<HostState>>,
    path: PathBuf,
    stubbed: Vec<String>,
}

impl Plugin {
    /// Compiles the `.wasm` at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Plugin, HostError> {
        let path = path.as_ref().to_path_buf();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(HostError::WasmMissing { path });
            }
            Err(source) => return Err(HostError::Read { path, source }),
        };
        Plugin::from_bytes(&bytes, path)
    }

    /// Compiles the plugin found by [`crate::default_wasm_path`].
    pub fn load_default() -> Result<Plugin, HostError> {
        Plugin::load(crate::default_wasm_path())
    }

    /// Compiles a module from memory; `origin` is only used in messages.
    pub fn from_bytes(bytes: &[u8], origin: PathBuf) -> Result<Plugin, HostError> {
        let mut config = Config::new();
        // A callback that runs away (an endless loop) traps after its time limit instead of
        // hanging the test run; see `HostOptions::callback_time_limit`.
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| HostError::Compile(format!("{e:?}")))?;
        start_epoch_ticker(&engine);
        let module =
            Module::new(&engine, bytes).map_err(|e| HostError::Compile(format!("{e:?}")))?;
        if module.get_export("proxy_abi_version_0_2_1").is_none() {
            return Err(HostError::NotProxyWasm(format!(
                "{} does not export proxy_abi_version_0_2_1",
                origin.display()
            )));
        }
        let (linker, stubbed) =
            build_linker(&engine, &module).map_err(|e| HostError::Instantiate(format!("{e:?}")))?;
        Ok(Plugin {
            engine,
            module,
            linker: Arc::new(linker),
            path: origin,
            stubbed,
        })
    }

    /// Where the module came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Imports the host has no implementation for, answered by an error-status stub
    /// (`module::name`). Empty for any module built with the proxy-wasm 0.2 Rust SDK.
    pub fn stubbed_imports(&self) -> &[String] {
        &self.stubbed
    }

    /// The module's imports as `module::name`, e.g. `env::proxy_log`.
    pub fn imports(&self) -> Vec<String> {
        self.module
            .imports()
            .map(|i| format!("{}::{}", i.module(), i.name()))
            .collect()
    }
}

/// Advances the engine's epoch every `EPOCH_TICK` until the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let ticker = std::thread::Builder::new()
        .name("warden-wasm-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        });
    // Without the thread no deadline is ever reached: callbacks just run without a limit.
    drop(ticker);
}

fn build_linker(
    engine: &Engine,
    module: &Module,
) -> wasmtime::Result<(Linker<HostState>, Vec<String>)> {
    let mut stubbed = Vec::new();
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut HostState| &mut state.wasi)?;
    hostcalls::add_to_linker(&mut linker)?;
    // Anything else the module imports (a newer SDK's extra calls) answers with an error
    // status and is noted, instead of failing instantiation. Defining a name twice fails,
    // which leaves the real implementations above in place.
    for import in module.imports() {
        let ExternType::Func(ty) = import.ty() else {
            continue;
        };
        let numeric = ty
            .results()
            .all(|r| matches!(r, ValType::I32 | ValType::I64));
        if !numeric {
            continue;
        }
        let code = if import.module() == "wasi_snapshot_preview1" {
            WASI_ENOSYS
        } else {
            12
        };
        let name = format!("{}::{}", import.module(), import.name());
        let result_types: Vec<ValType> = ty.results().collect();
        let stub = linker.func_new(import.module(), import.name(), ty.clone(), {
            move |mut caller, _params, results| {
                caller.data_mut().note_unsupported(&name);
                for (result, ty) in results.iter_mut().zip(&result_types) {
                    *result = match ty {
                        ValType::I64 => Val::I64(i64::from(code)),
                        _ => Val::I32(code),
                    };
                }
                Ok(())
            }
        });
        // An error means the name is already defined: the real implementation stays.
        if stub.is_ok() {
            stubbed.push(format!("{}::{}", import.module(), import.name()));
        }
    }
    Ok((linker, stubbed))
}
