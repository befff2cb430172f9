#include "common/main.hpp"

#include "csp/server.hpp"

int main(int argc, char** argv) {
    return common::run_main<csp::server>(argc, argv);
}
