//! gRPC reflection (v1 and v1alpha) of exactly what a binary serves: the files declaring its
//! services and their imports, plus health and the `google.rpc` error details, so a
//! per-service binary does not advertise the other services of the suite.
use prost::Message as _;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use std::collections::{BTreeSet, HashMap};

/// The files of `all` (an encoded descriptor set) that declare one of `services` (full
/// names), with every file they import, transitively; encoded.
pub fn served_descriptor_set(all: &[u8], services: &[&str]) -> anyhow::Result<Vec<u8>> {
    let set = FileDescriptorSet::decode(all)?;
    let by_name: HashMap<&str, &FileDescriptorProto> =
        set.file.iter().map(|f| (f.name(), f)).collect();
    let mut wanted = BTreeSet::new();
    let mut todo: Vec<&str> = set
        .file
        .iter()
        .filter(|f| {
            f.service
                .iter()
                .any(|s| services.contains(&format!("{}.{}", f.package(), s.name()).as_str()))
        })
        .map(|f| f.name())
        .collect();
    while let Some(name) = todo.pop() {
        if wanted.insert(name)
            && let Some(file) = by_name.get(name)
        {
            todo.extend(file.dependency.iter().map(String::as_str));
        }
    }
    let file = set
        .file
        .iter()
        .filter(|f| wanted.contains(f.name()))
        .cloned()
        .collect();
    Ok(FileDescriptorSet { file }.encode_to_vec())
}

/// The methods of `service` (full name) in `all` (an encoded descriptor set), if declared.
pub fn methods_of(all: &[u8], service: &str) -> Option<std::collections::HashSet<String>> {
    let set = FileDescriptorSet::decode(all).ok()?;
    set.file.iter().find_map(|f| {
        f.service
            .iter()
            .find(|s| format!("{}.{}", f.package(), s.name()) == service)
            .map(|s| s.method.iter().map(|m| m.name().to_owned()).collect())
    })
}

/// Reflection services (v1, v1alpha) over `crm` (already filtered), health and error types.
pub fn services(
    crm: &[u8],
) -> anyhow::Result<(
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
)> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crm)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc.ErrorInfo / BadRequest: lets grpcurl and other clients decode details.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    Ok((builder().build_v1()?, builder().build_v1alpha()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_served_services_and_their_imports_are_kept() {
        let bytes = served_descriptor_set(
            crm_proto::FILE_DESCRIPTOR_SET,
            &["crm.customers.v1.CustomerService"],
        )
        .expect("filter");
        let set = FileDescriptorSet::decode(bytes.as_slice()).expect("decode");
        let services: Vec<String> = set
            .file
            .iter()
            .flat_map(|f| {
                f.service
                    .iter()
                    .map(move |s| format!("{}.{}", f.package(), s.name()))
            })
            .collect();
        assert_eq!(services, ["crm.customers.v1.CustomerService"]);
        let names: BTreeSet<&str> = set.file.iter().map(|f| f.name()).collect();
        // Every import of a kept file is kept too, so clients can resolve every type.
        for f in &set.file {
            for dep in &f.dependency {
                let known =
                    names.contains(dep.as_str()) || !crm_proto_names().contains(dep.as_str());
                assert!(known, "{} imports {dep}, which was dropped", f.name());
            }
        }
    }

    #[test]
    fn methods_come_from_the_descriptor() {
        let m = methods_of(
            crm_proto::FILE_DESCRIPTOR_SET,
            "crm.customers.v1.CustomerService",
        )
        .expect("declared");
        assert!(m.contains("GetCustomer"), "{m:?}");
        assert_eq!(
            methods_of(crm_proto::FILE_DESCRIPTOR_SET, "crm.test.v1.Nope"),
            None
        );
    }

    fn crm_proto_names() -> BTreeSet<String> {
        FileDescriptorSet::decode(crm_proto::FILE_DESCRIPTOR_SET)
            .expect("decode")
            .file
            .into_iter()
            .map(|f| f.name().to_owned())
            .collect()
    }
}
