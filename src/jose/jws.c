/* placeholder: being written */
typedef int af_placeholder_jws;
