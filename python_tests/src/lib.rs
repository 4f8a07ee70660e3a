//! `ndbind_test`: the conformance module of CONFORMANCE.md, written the way
//! a user of ndbind writes bindings. One file per CONFORMANCE section.

mod arrays_in;
mod arrays_out;
mod bench;
mod callables;
mod classes;
mod classmodel;
mod classproto;
mod datetimes;
mod devexport;
mod enums_ext;
mod ft_review;
mod functions;
mod handles;
mod introspect;
mod nbconv;
mod overrides;
mod ownership;
mod reasons;
mod review_a;
mod review_b;
mod rtdtype;
mod streams;
mod stubs;
mod threads;
mod varargs;

ndbind::module!(ndbind_test, |m| {
    m.doc("ndbind's conformance module (see CONFORMANCE.md).")?;
    functions::bind(m)?;
    arrays_in::bind(m)?;
    arrays_out::bind(m)?;
    bench::bind(m)?;
    callables::bind(m)?;
    classes::bind(m)?;
    classproto::bind(m)?;
    enums_ext::bind(m)?;
    overrides::bind(m)?;
    ownership::bind(m)?;
    review_a::bind(m)?;
    varargs::bind(m)?;
    handles::bind(m)?;
    introspect::bind(m)?;
    datetimes::bind(m)?;
    reasons::bind(m)?;
    nbconv::bind(m)?;
    stubs::bind(m)?;
    streams::bind(m)?;
    rtdtype::bind(m)?;
    review_b::bind(m)?;
    classmodel::bind(m)?;
    devexport::bind(m)?;
    threads::bind(m)?;
    ft_review::bind(m)?;
    Ok(())
});
