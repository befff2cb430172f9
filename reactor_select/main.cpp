#include "common/main.hpp"

#include "reactor_select/server.hpp"

int main(int argc, char** argv) {
    return common::run_main<reactor_select::server>(argc, argv);
}
