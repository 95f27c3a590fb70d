//! Configuration: invalid settings are refused with an error naming the setting, the value
//! and the accepted range; the boundaries themselves are accepted.

use heaplab_runtime::heaplab_gc::{self, HeapOptions};
use heaplab_runtime::{ConfigError, Runtime, MAX_SCHEDULERS, MAX_TABLE_PROCESSES};

fn refused(b: heaplab_runtime::Builder) -> ConfigError {
    b.build().expect_err("configuration should be refused")
}

#[test]
fn scheduler_count_outside_the_range_is_refused() {
    let e = refused(Runtime::builder().schedulers(0));
    assert_eq!(e, ConfigError::Schedulers(0));
    assert_eq!(e.to_string(), "schedulers must be between 1 and 1024, got 0");
    let e = refused(Runtime::builder().schedulers(MAX_SCHEDULERS + 1));
    assert_eq!(e, ConfigError::Schedulers(1025));
    assert_eq!(e.to_string(), "schedulers must be between 1 and 1024, got 1025");
}

#[test]
fn zero_reductions_are_refused() {
    let e = refused(Runtime::builder().schedulers(1).reductions(0));
    assert_eq!(e, ConfigError::Reductions);
    assert_eq!(e.to_string(), "reductions per slice must be at least 1");
}

#[test]
fn process_limit_outside_the_range_is_refused() {
    let e = refused(Runtime::builder().schedulers(1).max_processes(0));
    assert_eq!(e, ConfigError::MaxProcesses(0));
    assert_eq!(e.to_string(), format!("max_processes must be between 1 and {MAX_TABLE_PROCESSES}, got 0"));
    let e = refused(Runtime::builder().schedulers(1).max_processes(MAX_TABLE_PROCESSES + 1));
    assert_eq!(e, ConfigError::MaxProcesses(MAX_TABLE_PROCESSES + 1));
    assert_eq!(
        e.to_string(),
        format!("max_processes must be between 1 and {MAX_TABLE_PROCESSES}, got {}", MAX_TABLE_PROCESSES + 1)
    );
}

#[test]
fn bad_heap_options_are_refused() {
    let e = refused(Runtime::builder().schedulers(1).min_heap_size(3));
    assert_eq!(e, ConfigError::Heap(heaplab_gc::ConfigError::MinHeapTooSmall { given: 3 }));
    assert_eq!(
        e.to_string(),
        "invalid heap options: min_heap_size 3 words is too small; it must be at least 12 words"
    );

    let e = refused(Runtime::builder().schedulers(1).max_heap_size(Some(100)));
    assert_eq!(e, ConfigError::Heap(heaplab_gc::ConfigError::MaxBelowMin { max: 100, min: 233 }));
    assert_eq!(
        e.to_string(),
        "invalid heap options: max_heap_size 100 words is below min_heap_size 233 words"
    );

    let e = refused(
        Runtime::builder()
            .schedulers(1)
            .heap_options(HeapOptions { min_bin_vheap_size: 0, ..HeapOptions::default() }),
    );
    assert_eq!(e, ConfigError::Heap(heaplab_gc::ConfigError::VheapZero));
    assert_eq!(e.to_string(), "invalid heap options: min_bin_vheap_size must be at least 1 word");

    // The order of the builder calls does not matter: a later min above an earlier max.
    let e = refused(Runtime::builder().schedulers(1).max_heap_size(Some(1000)).min_heap_size(2000));
    assert_eq!(e, ConfigError::Heap(heaplab_gc::ConfigError::MaxBelowMin { max: 1000, min: 2000 }));
}

/// The first error in field order is reported: schedulers, reductions, process limit, heap.
#[test]
fn the_first_invalid_field_is_reported() {
    let e = refused(Runtime::builder().schedulers(0).reductions(0).max_processes(0).min_heap_size(1));
    assert_eq!(e, ConfigError::Schedulers(0));
    let e = refused(Runtime::builder().schedulers(1).reductions(0).max_processes(0).min_heap_size(1));
    assert_eq!(e, ConfigError::Reductions);
    let e = refused(Runtime::builder().schedulers(1).max_processes(0).min_heap_size(1));
    assert_eq!(e, ConfigError::MaxProcesses(0));
}

/// The smallest accepted values start a runtime that works.
#[test]
fn boundary_values_are_accepted() {
    let rt = Runtime::builder()
        .schedulers(1)
        .reductions(1)
        .max_processes(1)
        .min_heap_size(heaplab_gc::MIN_ALLOWED_HEAP_SIZE)
        .max_heap_size(Some(heaplab_gc::MIN_ALLOWED_HEAP_SIZE))
        .build()
        .expect("boundary values are valid");
    assert_eq!(rt.config().schedulers, 1);
    assert_eq!(rt.config().reductions, 1);
    assert_eq!(rt.config().max_processes, 1);
    // One reduction per slice: every await point yields, and the work still completes.
    let sum = rt
        .block_on(|mut cx| async move {
            let mut sum = 0;
            for i in 0..100 {
                cx.tick(1).await;
                sum += i;
            }
            sum
        })
        .unwrap();
    assert_eq!(sum, 4950);
    let stats = rt.shutdown();
    assert!(stats.schedulers[0].slices >= 100, "slices: {}", stats.schedulers[0].slices);
}

/// `Config::validate` gives the same answers as the builder.
#[test]
fn validate_matches_the_builder() {
    let mut c = heaplab_runtime::Config { schedulers: 4, ..Default::default() };
    assert_eq!(c.validate(), Ok(()));
    c.reductions = 0;
    assert_eq!(c.validate(), Err(ConfigError::Reductions));
}
