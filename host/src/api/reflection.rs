//! gRPC server reflection (v1 and v1alpha) as the reference servers answer it: a request that
//! cannot be answered (an unknown symbol or file) gets an `error_response` and the stream goes
//! on. (tonic-reflection ends the whole stream instead, so a client that asks for one unknown
//! symbol loses the connection's reflection.) A file comes with the files it depends on that
//! this stream has not sent yet, as grpc-go's server does.

use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};
use std::{
    collections::{HashMap, HashSet},
    pin::Pin,
    sync::Arc,
};
use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Request, Response, Status, Streaming};

/// Every file, symbol and service the host describes.
#[derive(Debug, Default)]
pub struct Descriptors {
    /// Encoded files by name, with the names they import.
    files: HashMap<String, (Vec<u8>, Vec<String>)>,
    /// Fully qualified symbol (no leading dot) → file name.
    symbols: HashMap<String, String>,
    /// Message types, for extension-number questions.
    messages: HashSet<String>,
    services: Vec<String>,
}

impl Descriptors {
    /// Indexes encoded `FileDescriptorSet`s.
    pub fn new(sets: &[&[u8]]) -> Result<Descriptors, prost::DecodeError> {
        let mut d = Descriptors::default();
        for set in sets {
            for file in FileDescriptorSet::decode(*set)?.file {
                d.add(file);
            }
        }
        d.services.sort();
        Ok(d)
    }

    fn add(&mut self, file: FileDescriptorProto) {
        let name = file.name().to_string();
        let package = file.package();
        let qualify = |n: &str| {
            if package.is_empty() {
                n.to_string()
            } else {
                format!("{package}.{n}")
            }
        };
        for service in &file.service {
            let full = qualify(service.name());
            for method in &service.method {
                self.symbols
                    .insert(format!("{full}.{}", method.name()), name.clone());
            }
            self.symbols.insert(full.clone(), name.clone());
            self.services.push(full);
        }
        for message in &file.message_type {
            self.add_message(&qualify(message.name()), message, &name);
        }
        for e in &file.enum_type {
            self.add_enum(&qualify(e.name()), &qualify(""), e, &name);
        }
        for ext in &file.extension {
            self.symbols.insert(qualify(ext.name()), name.clone());
        }
        let deps = file.dependency.clone();
        self.files.insert(name, (file.encode_to_vec(), deps));
    }

    fn add_message(&mut self, full: &str, message: &DescriptorProto, file: &str) {
        self.symbols.insert(full.to_string(), file.to_string());
        self.messages.insert(full.to_string());
        for field in &message.field {
            self.symbols
                .insert(format!("{full}.{}", field.name()), file.to_string());
        }
        for nested in &message.nested_type {
            self.add_message(&format!("{full}.{}", nested.name()), nested, file);
        }
        for e in &message.enum_type {
            self.add_enum(
                &format!("{full}.{}", e.name()),
                &format!("{full}."),
                e,
                file,
            );
        }
    }

    /// An enum and its values, which are scoped beside the enum (C++ rules): `pkg.Status` has
    /// `pkg.HEALTHY`. `scope` ends with a dot, or is empty.
    fn add_enum(
        &mut self,
        full: &str,
        scope: &str,
        e: &prost_types::EnumDescriptorProto,
        file: &str,
    ) {
        self.symbols.insert(full.to_string(), file.to_string());
        for value in &e.value {
            self.symbols
                .insert(format!("{scope}{}", value.name()), file.to_string());
        }
    }

    /// `name` and the files it depends on, transitively, that are not in `sent`.
    fn file_with_deps(
        &self,
        name: &str,
        sent: &mut HashSet<String>,
    ) -> Result<Vec<Vec<u8>>, Status> {
        let (bytes, deps) = self.files.get(name).ok_or_else(|| {
            Status::not_found(format!("no file named {}", crate::names::quote(name)))
        })?;
        sent.insert(name.to_string());
        let mut out = vec![bytes.clone()];
        let mut todo: Vec<&String> = deps.iter().collect();
        while let Some(dep) = todo.pop() {
            if !sent.insert(dep.clone()) {
                continue;
            }
            if let Some((bytes, deps)) = self.files.get(dep) {
                out.push(bytes.clone());
                todo.extend(deps.iter());
            }
        }
        Ok(out)
    }

    fn symbol_file(&self, symbol: &str) -> Result<&str, Status> {
        let symbol = symbol.strip_prefix('.').unwrap_or(symbol);
        self.symbols.get(symbol).map(String::as_str).ok_or_else(|| {
            Status::not_found(format!("no symbol named {}", crate::names::quote(symbol)))
        })
    }
}

/// One answer, in neither version's types.
enum Answer {
    Files(Vec<Vec<u8>>),
    Services(Vec<String>),
    ExtensionNumbers(String),
    Error(Status),
}

/// A request, in neither version's types.
enum Ask {
    File(String),
    Symbol(String),
    Extension,
    ExtensionNumbers(String),
    Services,
    Nothing,
}

fn answer(d: &Descriptors, ask: Ask, sent: &mut HashSet<String>) -> Answer {
    let result = match ask {
        Ask::File(name) => d.file_with_deps(&name, sent).map(Answer::Files),
        Ask::Symbol(symbol) => d
            .symbol_file(&symbol)
            .and_then(|file| d.file_with_deps(file, sent))
            .map(Answer::Files),
        Ask::Extension => Err(Status::not_found("this server has no extensions")),
        // Clients such as grpcurl ask for every type's extensions and expect an answer: a
        // known type has none.
        Ask::ExtensionNumbers(t) if d.messages.contains(t.strip_prefix('.').unwrap_or(&t)) => {
            Ok(Answer::ExtensionNumbers(t))
        }
        Ask::ExtensionNumbers(t) => Err(Status::not_found(format!(
            "no type named {}",
            crate::names::quote(&t)
        ))),
        Ask::Services => Ok(Answer::Services(d.services.clone())),
        Ask::Nothing => Err(Status::invalid_argument(
            "the request names nothing to look up",
        )),
    };
    result.unwrap_or_else(Answer::Error)
}

/// A request stream's error as the stream's end status (gRPC's code for a message over the
/// size limit is RESOURCE_EXHAUSTED).
fn end_status(status: Status) -> Status {
    if status.code() == Code::OutOfRange {
        Status::resource_exhausted(status.message().to_string())
    } else {
        status
    }
}

macro_rules! reflection_version {
    ($module:ident, $pb:path) => {
        /// The service of one reflection version.
        pub mod $module {
            use super::*;
            use pb::{
                server_reflection_request::MessageRequest as Req,
                server_reflection_response::MessageResponse as Resp,
            };
            use $pb as pb;

            /// The service.
            #[derive(Debug, Clone)]
            pub struct Reflection(pub Arc<Descriptors>);

            type Out =
                Pin<Box<dyn Stream<Item = Result<pb::ServerReflectionResponse, Status>> + Send>>;

            #[tonic::async_trait]
            impl pb::server_reflection_server::ServerReflection for Reflection {
                type ServerReflectionInfoStream = Out;

                async fn server_reflection_info(
                    &self,
                    request: Request<Streaming<pb::ServerReflectionRequest>>,
                ) -> Result<Response<Out>, Status> {
                    let descriptors = Arc::clone(&self.0);
                    let mut sent = HashSet::new();
                    let stream = request.into_inner().map(move |request| {
                        let request = request.map_err(end_status)?;
                        let ask = match request.message_request.clone() {
                            Some(Req::FileByFilename(name)) => Ask::File(name),
                            Some(Req::FileContainingSymbol(symbol)) => Ask::Symbol(symbol),
                            Some(Req::FileContainingExtension(_)) => Ask::Extension,
                            Some(Req::AllExtensionNumbersOfType(t)) => Ask::ExtensionNumbers(t),
                            Some(Req::ListServices(_)) => Ask::Services,
                            None => Ask::Nothing,
                        };
                        let response = match answer(&descriptors, ask, &mut sent) {
                            Answer::Files(files) => {
                                Resp::FileDescriptorResponse(pb::FileDescriptorResponse {
                                    file_descriptor_proto: files,
                                })
                            }
                            Answer::Services(names) => {
                                Resp::ListServicesResponse(pb::ListServiceResponse {
                                    service: names
                                        .into_iter()
                                        .map(|name| pb::ServiceResponse { name })
                                        .collect(),
                                })
                            }
                            Answer::ExtensionNumbers(base_type_name) => {
                                Resp::AllExtensionNumbersResponse(pb::ExtensionNumberResponse {
                                    base_type_name,
                                    extension_number: Vec::new(),
                                })
                            }
                            Answer::Error(status) => Resp::ErrorResponse(pb::ErrorResponse {
                                error_code: status.code() as i32,
                                error_message: status.message().to_string(),
                            }),
                        };
                        Ok(pb::ServerReflectionResponse {
                            valid_host: request.host.clone(),
                            original_request: Some(request),
                            message_response: Some(response),
                        })
                    });
                    Ok(Response::new(Box::pin(stream)))
                }
            }
        }
    };
}

reflection_version!(v1, tonic_reflection::pb::v1);
reflection_version!(v1alpha, tonic_reflection::pb::v1alpha);
